// Lifting to opset 25 for INT2 weights: only models from 13 up whose every op means the same at 25.
import { describe, expect, it } from "vitest";
import { liftToOpset25 } from "@worker/compress/quantize/opset25";
import { makeNode } from "@worker/onnx/builders";
import { decodeModel } from "@worker/onnx/codec";
import { defaultOpset } from "@worker/onnx/validate";
import { buildCnn, buildMlp, buildUnliftableMlp } from "@test/support/models";

describe("lifting to opset 25", () => {
  it("lifts an opset-13 MLP and CNN to 25 with IR version 13", () => {
    for (const bytes of [buildMlp([8, 4, 2]), buildCnn()]) {
      const r = liftToOpset25(decodeModel(bytes));
      if (!("model" in r)) throw new Error(r.reason);
      expect(defaultOpset(r.model)).toBe(25);
      expect(r.model.irVersion).toBe(13n);
    }
  });

  it("lifts an opset-11 model, and refuses one with a node whose meaning changed, naming it", () => {
    const r = liftToOpset25(decodeModel(buildMlp([8, 4, 2], 1, 11)));
    expect("model" in r && defaultOpset(r.model)).toBe(25);
    expect(liftToOpset25(decodeModel(buildUnliftableMlp([8, 4, 2])))).toEqual({
      reason: "int2 weights need opset 25; lifting from opset 9: Dropout node 'dropout': Dropout's mask output changed type at opset 10",
    });
  });

  it("refuses a graph with an op whose meaning changed or that opset 13 lacks, naming it", () => {
    const model = decodeModel(buildMlp([8, 4, 2]));
    model.graph!.node.push(makeNode("GroupNormalization", ["logits"], ["extra"], "extra"));
    expect(liftToOpset25(model)).toEqual({ reason: "int2 weights need opset 25; lifting from opset 13: GroupNormalization is not defined at opset 13 (it came with opset 18)" });
  });

  it("lifts ops that only gained types or defaulted attributes (TopK, Resize, Where, Expand, Slice)", () => {
    for (const op of ["TopK", "Resize", "Where", "Expand", "Slice"]) {
      const model = decodeModel(buildMlp([8, 4, 2]));
      model.graph!.node.push(makeNode(op, ["logits"], ["extra"], "extra"));
      expect("model" in liftToOpset25(model)).toBe(true);
    }
  });

  it("refuses a node of another domain", () => {
    const model = decodeModel(buildMlp([8, 4, 2]));
    model.graph!.node.push({ ...makeNode("MatMulNBits", ["logits"], ["extra"], "extra"), domain: "com.microsoft" });
    expect(liftToOpset25(model)).toEqual({ reason: expect.stringContaining("com.microsoft.MatMulNBits") });
  });
});
