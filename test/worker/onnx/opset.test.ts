import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { liftToOpset7 } from "@worker/onnx/opset";
import { defaultOpset } from "@worker/onnx/validate";

const io = (name: string) => makeValueInfo(name, DT.FLOAT, [2, 3]);

describe("liftToOpset7", () => {
  it("leaves opset 7+ models untouched", () => {
    const m = makeModel(makeGraph([makeNode("Relu", ["x"], ["y"], "r")], "g", [io("x")], [io("y")]), { "": 13 });
    expect(liftToOpset7(m)).toEqual({ model: m });
  });

  it("lifts a Gemm-6 model by dropping its broadcast attribute", () => {
    const m = makeModel(
      makeGraph([makeNode("Gemm", ["x", "w", "b"], ["y"], "fc", { broadcast: 1, transB: 1 })], "g", [io("x"), io("w"), io("b")], [io("y")]),
      { "": 6 },
      3,
    );
    const lifted = liftToOpset7(m);
    if (!("model" in lifted)) throw new Error(lifted.reason);
    expect(defaultOpset(lifted.model)).toBe(7);
    expect(lifted.model.graph!.node[0]!.attribute.map((a) => a.name)).toEqual(["transB"]);
  });

  it("refuses a model whose Add uses opset-6 broadcasting", () => {
    const m = makeModel(
      makeGraph([makeNode("Add", ["x", "b"], ["y"], "add", { broadcast: 1, axis: 1 })], "g", [io("x"), io("b")], [io("y")]),
      { "": 6 },
      3,
    );
    expect(liftToOpset7(m)).toEqual({ reason: "Add node 'add' uses opset-6 broadcasting" });
  });
});
