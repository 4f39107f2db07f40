// The output budget before an answer is serialized (serve/inputs.ts checkOutputSizes): whichever engine computed it,
// an output over MAX_TENSOR_ELEMENTS, or outputs over MAX_OUTPUT_ELEMENTS together, are a 413 naming the output.
import { describe, expect, it } from "vitest";
import { checkOutputSizes } from "@worker/serve/inputs";
import { MAX_OUTPUT_ELEMENTS, MAX_TENSOR_ELEMENTS } from "@worker/onnx/limits";
import { DomainError } from "@worker/domain-error";

const codeOf = (f: () => void) => {
  try {
    f();
    return "accepted";
  } catch (err) {
    return err instanceof DomainError ? `${err.code}: ${err.message}` : String(err);
  }
};

describe("checkOutputSizes", () => {
  it("accepts outputs within the budget: 512K elements by default", () => {
    expect(codeOf(() => checkOutputSizes({ y: { dims: [512, 1024] } }))).toBe("accepted");
  });

  it("refuses outputs over MAX_OUTPUT_ELEMENTS", () => {
    expect(codeOf(() => checkOutputSizes({ y: { dims: [512, 1025] } }))).toMatch(/^payload_too_large: .*at output 'y'/);
  });

  it("refuses one output over MAX_TENSOR_ELEMENTS, naming it", () => {
    expect(codeOf(() => checkOutputSizes({ small: { dims: [2] }, wide: { dims: [MAX_TENSOR_ELEMENTS + 1] } })))
      .toMatch(/^payload_too_large: output 'wide' has 12582913 elements/);
  });

  it("refuses outputs over MAX_OUTPUT_ELEMENTS together, naming where the sum passed it", () => {
    const half = { dims: [MAX_OUTPUT_ELEMENTS / 2 + 1] };
    expect(codeOf(() => checkOutputSizes({ a: half, b: half }))).toMatch(/^payload_too_large: .*at output 'b' \(MAX_OUTPUT_ELEMENTS\)/);
  });
});
