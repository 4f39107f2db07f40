import { create } from "@bufbuild/protobuf";
import { OperatorSetIdProtoSchema } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildCnn, buildMlp, rng } from "@test/support/models";

const x = makeValueInfo("x", DT.FLOAT, ["N", 4]);
const y = makeValueInfo("y", DT.FLOAT, ["N", 4]);

describe("validateModel", () => {
  it("accepts the MLP and CNN the tests build", () => {
    expect(() => validateModel(decodeModel(buildMlp([8, 16, 4])))).not.toThrow();
    expect(() => validateModel(decodeModel(buildCnn()))).not.toThrow();
  });

  it("rejects a model whose graph has a cycle", () => {
    // x ─Add(x, b)─ a ─Relu─ b  (a and b feed each other)
    const g = makeGraph(
      [makeNode("Add", ["x", "b"], ["a"], "add"), makeNode("Relu", ["a"], ["b"], "relu"), makeNode("Identity", ["b"], ["y"], "id")],
      "g", [x], [y],
    );
    expect(() => validateModel(makeModel(g))).toThrow(/cycle through node '(add|relu)'/);
  });

  it("rejects a node that reads an undefined tensor, naming both", () => {
    const g = makeGraph([makeNode("Add", ["x", "ghost"], ["y"], "add")], "g", [x], [y]);
    expect(() => validateModel(makeModel(g))).toThrow(/node 'add' uses undefined tensor 'ghost'/);
  });

  it("rejects a graph output that nothing produces", () => {
    const g = makeGraph([makeNode("Relu", ["x"], ["z"], "relu")], "g", [x], [y]);
    expect(() => validateModel(makeModel(g))).toThrow(/graph output 'y' is never produced/);
  });

  it("rejects a model without opset_import", () => {
    const m = makeModel(makeGraph([makeNode("Relu", ["x"], ["y"], "relu")], "g", [x], [y]));
    m.opsetImport = [];
    expect(() => validateModel(m)).toThrow(/no opset_import/);
  });

  it("rejects a node from a domain the model does not import", () => {
    const m = makeModel(makeGraph([makeNode("Gelu", ["x"], ["y"], "gelu", {}, "com.microsoft")], "g", [x], [y]));
    expect(() => validateModel(m)).toThrow(/domain 'com.microsoft' that has no opset_import/);
    m.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: "com.microsoft", version: 1n }));
    expect(() => validateModel(m)).not.toThrow();
  });

  it("rejects a tensor produced twice", () => {
    const g = makeGraph([makeNode("Relu", ["x"], ["y"], "r1"), makeNode("Relu", ["x"], ["y"], "r2")], "g", [x], [y]);
    expect(() => validateModel(makeModel(g))).toThrow(/'y' is produced more than once/);
  });

  it("rejects an initializer whose raw_data does not match its dims", () => {
    const w = makeTensor("w", DT.FLOAT, [4], new Float32Array(4));
    w.dims = [5n];
    const g = makeGraph([makeNode("Add", ["x", "w"], ["y"], "add")], "g", [x], [y], [w]);
    expect(() => validateModel(makeModel(g))).toThrow(/initializer 'w' has 16 bytes of raw_data, expected 20/);
  });

  it("rejects a model with no graph or no ir_version", () => {
    const m = makeModel(makeGraph([makeNode("Relu", ["x"], ["y"], "relu")], "g", [x], [y]));
    expect(() => validateModel({ ...m, graph: undefined })).toThrow(/no graph/);
    expect(() => validateModel({ ...m, irVersion: 0n })).toThrow(/ir_version/);
  });

  it("fails to decode truncated bytes and random bytes", () => {
    const bytes = buildMlp([8, 16, 4]);
    const truncated = bytes.subarray(0, Math.floor(bytes.length / 2));
    const outcome = (b: Uint8Array) => {
      try {
        validateModel(decodeModel(b));
        return "valid";
      } catch (err) {
        return (err as Error).name;
      }
    };
    expect(outcome(truncated)).toMatch(/OnnxDecodeError|OnnxValidationError/);
    const next = rng(7);
    const random = Uint8Array.from({ length: 4096 }, () => Math.floor(next() * 256));
    expect(outcome(random)).toMatch(/OnnxDecodeError|OnnxValidationError/);
  });
});

describe("summarizeModel", () => {
  it("reports inputs with symbolic dims, parameter count and op histogram", () => {
    const s = summarizeModel(decodeModel(buildMlp([8, 16, 4])));
    expect(s.inputs).toEqual([{ name: "input", type: "float32", shape: ["N", 8] }]);
    expect(s.outputs).toEqual([{ name: "logits", type: "float32", shape: ["N", 4] }]);
    expect(s.parameters).toBe(8 * 16 + 16 + 16 * 4 + 4);
    expect(s.ops).toEqual({ Add: 1, Gemm: 1, MatMul: 1, Relu: 1 });
    expect(s.opset).toEqual([{ domain: "ai.onnx", version: 13 }]);
  });

  it("does not list initializers that IR<4 models also declare as inputs", () => {
    const w = makeTensor("w", DT.FLOAT, [4], new Float32Array(4));
    const g = makeGraph([makeNode("Add", ["x", "w"], ["y"], "add")], "g", [x, makeValueInfo("w", DT.FLOAT, [4])], [y], [w]);
    const s = summarizeModel(decodeModel(encodeModel(makeModel(g, { "": 9 }, 3))));
    expect(s.inputs.map((i) => i.name)).toEqual(["x"]);
  });
});
