// Exposing intermediate tensors as graph outputs: each named tensor once, never an omitted optional output.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { withExtraOutputs } from "@worker/onnx/outputs";

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
