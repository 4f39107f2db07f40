// The output budget before an answer is serialized (serve/inputs.ts checkOutputSizes): whichever engine computed it,
// an output over MAX_TENSOR_ELEMENTS, or outputs over MAX_OUTPUT_ELEMENTS together, are a 413 naming the output. And
// float16 tensors: JSON numbers in as their nearest half's bits, bits out as their values.
import { describe, expect, it } from "vitest";
import { checkInputs, checkOutputSizes, outputToJson } from "@worker/serve/inputs";
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

describe("float16 tensors", () => {
  const declared = [{ name: "x", type: "float16", shape: [1, 3] as (number | string)[] }];

  it("take JSON numbers as their nearest half's bits, and half bits as they are", () => {
    const json = checkInputs(declared, { x: { type: "float16", dims: [1, 3], data: [1, -2, 1 + 2 ** -11] } });
    expect(json.x!.data).toEqual(Uint16Array.from([0x3c00, 0xc000, 0x3c00]));
    const bits = Uint16Array.from([0x3c00, 0x7bff, 0x0001]);
    expect(checkInputs(declared, { x: { type: "float16", dims: [1, 3], data: bits } }).x!.data).toBe(bits);
    expect(codeOf(() => checkInputs(declared, { x: { type: "float16", dims: [1, 3], data: Float32Array.from([1, 2, 3]) } }))).toBe("invalid_input: input 'x' must be float16");
  });

  it("answer half bits as their values", () => {
    expect(outputToJson("float16", [3], Uint16Array.from([0x3c00, 0xc000, 0x7bff])).data).toEqual([1, -2, 65504]);
  });
});
