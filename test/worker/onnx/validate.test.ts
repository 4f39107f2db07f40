import { create } from "@bufbuild/protobuf";
import { OperatorSetIdProtoSchema } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildCnn, buildMlp, rng } from "@test/support/models";
import { ifNode } from "@test/support/graphs";
import { DomainError } from "@worker/domain-error";
import { MAX_GRAPH_NODES, MAX_SUBGRAPH_DEPTH } from "@worker/onnx/limits";

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

describe("validateModel: graph size", () => {
  const chain = (n: number, inputs = 1) => {
    const ins = Array.from({ length: inputs }, (_, i) => makeValueInfo(i === 0 ? "x" : `x${i}`, DT.FLOAT, ["N", 4]));
    const nodes = Array.from({ length: n }, (_, i) => makeNode("Relu", [i === 0 ? "x" : `t${i - 1}`], [i === n - 1 ? "y" : `t${i}`], `r${i}`));
    return makeModel(makeGraph(nodes, "g", ins, [y]));
  };

  it("accepts a graph at the node cap with many graph inputs (validation is linear in nodes and edges)", () => {
    expect(() => validateModel(chain(MAX_GRAPH_NODES, 2_000))).not.toThrow();
  });

  it("answers a graph over the node cap with 413 naming MAX_GRAPH_NODES", () => {
    let err: unknown;
    try {
      validateModel(chain(MAX_GRAPH_NODES + 1));
    } catch (e) {
      err = e;
    }
    expect((err as DomainError).code).toBe("payload_too_large");
    expect((err as Error).message).toMatch(/more than 20000 nodes.*MAX_GRAPH_NODES/);
  });

  it("counts subgraph nodes and caps nesting depth (MAX_SUBGRAPH_DEPTH)", () => {
    const leaf = () => makeGraph([makeNode("Identity", ["x"], ["o"], "id")], "leaf", [], [makeValueInfo("o", DT.FLOAT, ["N", 4])]);
    let g = leaf();
    for (let d = 0; d <= MAX_SUBGRAPH_DEPTH; d++) {
      g = makeGraph([ifNode("c", ["o"], g, leaf(), `if${d}`)], `level${d}`, [], [makeValueInfo("o", DT.FLOAT, ["N", 4])]);
    }
    const outer = makeGraph([makeNode("Identity", ["x"], ["c"], "cond"), ...g.node], "g", [x], [makeValueInfo("o", DT.FLOAT, ["N", 4])]);
    expect(() => validateModel(makeModel(outer))).toThrow(/nest deeper than 16 levels \(MAX_SUBGRAPH_DEPTH\)/);
  });
});

describe("validateModel: window and perm attributes", () => {
  const conv = (attrs: Record<string, number[]>) => {
    const w = makeTensor("w", DT.FLOAT, [1, 1, 1, 1], new Float32Array(1));
    const g = makeGraph([makeNode("Conv", ["x", "w"], ["y"], "conv", attrs)], "g", [makeValueInfo("x", DT.FLOAT, [1, 1, 4, 4])], [makeValueInfo("y", DT.FLOAT, [1, 1, 4, 4])], [w]);
    return makeModel(g);
  };

  it("accepts legal strides, pads and dilations", () => {
    expect(() => validateModel(conv({ strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] }))).not.toThrow();
  });

  it("refuses negative or zero strides, negative pads, zero dilations, naming the node", () => {
    expect(() => validateModel(conv({ strides: [-1, 1] }))).toThrow(/node conv: strides \[-1,1\] holds -1/);
    expect(() => validateModel(conv({ strides: [0, 1] }))).toThrow(/strides \[0,1\] holds 0/);
    expect(() => validateModel(conv({ pads: [0, -2, 0, 0] }))).toThrow(/pads \[0,-2,0,0\] holds -2/);
    expect(() => validateModel(conv({ dilations: [1, 0] }))).toThrow(/dilations/);
    expect(() => validateModel(conv({ strides: [1, 1, 1], pads: [0, 0, 0, 0] }))).toThrow(/disagree on the number of spatial axes/);
  });

  it("refuses a Transpose perm that is not a permutation", () => {
    const t = (perm: number[]) =>
      makeModel(makeGraph([makeNode("Transpose", ["x"], ["y"], "t", { perm })], "g", [x], [y]));
    expect(() => validateModel(t([1, 0]))).not.toThrow();
    expect(() => validateModel(t([0, 0]))).toThrow(/node t: perm \[0,0\] is not a permutation of 0..1/);
    expect(() => validateModel(t([0, 2]))).toThrow(/not a permutation/);
  });
});
