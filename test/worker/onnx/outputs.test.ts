// Exposing intermediate tensors as graph outputs: each named tensor once, never an omitted optional output; and which
// exposures a runtime's layout optimizations would fuse away (a Conv's output that an Add reads).
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { exposesConvIntoAdd, withExtraOutputs } from "@worker/onnx/outputs";
import { decodeModel } from "@worker/onnx/codec";
import { buildCnn, buildResidualCnn } from "@test/support/models";

const model = makeModel(
  makeGraph(
    [makeNode("Relu", ["x"], ["h"], "relu"), makeNode("Neg", ["h"], ["y"], "neg")],
    "g",
    [makeValueInfo("x", DT.FLOAT, [2])],
    [makeValueInfo("y", DT.FLOAT, [2])],
    [],
  ),
);

describe("withExtraOutputs", () => {
  it("appends each new name as a float output after the graph's own, and leaves the model it was given alone", () => {
    const exposed = withExtraOutputs(model, ["h", "y"]);
    expect(exposed.graph!.output.map((o) => o.name)).toEqual(["y", "h"]);
    expect(exposed.graph!.output[1]!.type?.value.case).toBe("tensorType");
    expect(model.graph!.output.map((o) => o.name)).toEqual(["y"]);
  });

  it("skips the empty name, which marks an omitted optional output (an LSTM's Y), not a tensor", () => {
    expect(withExtraOutputs(model, ["", "h"]).graph!.output.map((o) => o.name)).toEqual(["y", "h"]);
  });
});

describe("exposesConvIntoAdd", () => {
  const residual = decodeModel(buildResidualCnn());
  it("is true for a Conv's output that an Add reads (a residual block's last Conv, or its shortcut Conv), alone or among others", () => {
    expect(exposesConvIntoAdd(residual, ["cb"])).toBe(true);
    expect(exposesConvIntoAdd(residual, ["cd"])).toBe(true);
    expect(exposesConvIntoAdd(residual, ["ra", "cb"])).toBe(true);
  });
  it("is false for Conv outputs read only by other ops, for activations, and for a model without residual Adds", () => {
    expect(exposesConvIntoAdd(residual, ["ca", "ra", "rs"])).toBe(false);
    expect(exposesConvIntoAdd(residual, [])).toBe(false);
    expect(exposesConvIntoAdd(decodeModel(buildCnn()), ["c1", "c2"])).toBe(false);
  });
});
