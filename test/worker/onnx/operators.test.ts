// The operator table: per op, the weight's input, its channel axes and GEMM layout on small graphs (Gemm with and
// without transB, grouped and depthwise Conv), the bias input and where the output's channels lie; which nodes of a
// graph are weighted layers, and how a node is labelled.
import { describe, expect, it } from "vitest";
import { makeGraph, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { nodeLabel, nodeWeights, OPERATOR_FORMS, OPERATORS, prunableLayout, weightedLayers, weightedOperator, type WeightedOperator } from "@worker/onnx/operators";
import { makeTensor, tensorDims } from "@worker/onnx/tensor";
import { withGraphs } from "@test/support/graphs";

const weight = (name: string, dims: number[]) => makeTensor(name, DT.FLOAT, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));

/** Element (k, n) of group g of a GEMM layout, as a flat index of the weight. */
const at = (m: NonNullable<ReturnType<WeightedOperator["gemm"]>>, g: number, k: number, n: number) => g * m.groupStride + k * m.kStride + n * m.nStride;

describe("MatMul", () => {
  // x[1, 4] -> MatMul(W[4, 3]) -> y[1, 3]
  const node = makeNode("MatMul", ["x", "W"], ["y"], "fc");
  const op = OPERATORS.MatMul;

  it("holds its weight in input 1, [K, N]: output channels on the last axis, the sum over the one before", () => {
    expect(op.weight).toBe(1);
    expect(op.layout(node, [4, 3])).toEqual({ input: 1, outAxis: 1, inAxis: 0 });
    expect(op.layout(node, [2, 4, 3])).toEqual({ input: 1, outAxis: 2, inAxis: 1 });
    expect(op.layout(node, [3])).toBeNull();
  });

  it("feeds one GEMM per leading index, element (k, n) at k * N + n", () => {
    const m = op.gemm(node, [4, 3])!;
    expect(m).toEqual({ groups: 1, K: 4, N: 3, kStride: 3, nStride: 1, groupStride: 12 });
    expect(at(m, 0, 2, 1)).toBe(7);
    expect(op.gemm(node, [5, 4, 3])).toEqual({ groups: 5, K: 4, N: 3, kStride: 3, nStride: 1, groupStride: 12 });
  });

  it("has no bias, its channels last in an output of the data's rank; pruning takes 2-D weights only", () => {
    expect(op.bias).toBeNull();
    expect(op.outputChannels([4, 3])).toEqual({ axis: -1, rank: null });
    expect(prunableLayout({ node, operator: op }, [4, 3])).toEqual({ input: 1, outAxis: 1, inAxis: 0 });
    expect(prunableLayout({ node, operator: op }, [2, 4, 3])).toBeNull();
  });
});

describe("Gemm", () => {
  // x[1, 4] -> Gemm(B, C[3], transB) -> y[1, 3]
  const plain = makeNode("Gemm", ["x", "B", "C"], ["y"], "fc");
  const transposed = makeNode("Gemm", ["x", "B", "C"], ["y"], "fc", { transB: 1 });
  const op = OPERATORS.Gemm;

  it("transB=0: B is [K, N], output channels on axis 1, element (k, n) at k * N + n", () => {
    expect(op.layout(plain, [4, 3])).toEqual({ input: 1, outAxis: 1, inAxis: 0 });
    const m = op.gemm(plain, [4, 3])!;
    expect(m).toEqual({ groups: 1, K: 4, N: 3, kStride: 3, nStride: 1, groupStride: 12 });
    expect(at(m, 0, 3, 2)).toBe(11);
  });

  it("transB=1: B is [N, K], output channels on axis 0, element (k, n) at n * K + k", () => {
    expect(op.layout(transposed, [3, 4])).toEqual({ input: 1, outAxis: 0, inAxis: 1 });
    const m = op.gemm(transposed, [3, 4])!;
    expect(m).toEqual({ groups: 1, K: 4, N: 3, kStride: 1, nStride: 4, groupStride: 12 });
    expect(at(m, 0, 3, 2)).toBe(11);
    expect(at(m, 0, 1, 2)).toBe(9);
  });

  it("takes 2-D weights only; C (input 2) is the bias; the output is [M, N]", () => {
    expect(op.layout(plain, [2, 4, 3])).toBeNull();
    expect(op.gemm(plain, [12])).toBeNull();
    expect(op.bias).toBe(2);
    expect(op.outputChannels([4, 3])).toEqual({ axis: -1, rank: 2 });
  });
});

describe("Conv", () => {
  // x[1, 4, 5, 5] -> Conv(W[6, 4/group, 3, 3], B[6]) -> y[1, 6, 3, 3]
  const op = OPERATORS.Conv;

  it("holds W [M, C/group, kh, kw] in input 1: output channels on axis 0, the sum over axis 1 and the kernel", () => {
    const node = makeNode("Conv", ["x", "W", "B"], ["y"], "conv");
    expect(op.layout(node, [6, 4, 3, 3])).toEqual({ input: 1, outAxis: 0, inAxis: 1 });
    expect(op.layout(node, [6, 4, 3])).toEqual({ input: 1, outAxis: 0, inAxis: 1 }); // 1-D convolution
    expect(op.layout(node, [6, 4])).toBeNull();
    expect(op.gemm(node, [6, 4, 3, 3])).toEqual({ groups: 1, K: 36, N: 6, kStride: 1, nStride: 36, groupStride: 216 });
  });

  it("group=2: two GEMMs of M/2 channels, the second starting at channel 3", () => {
    const node = makeNode("Conv", ["x", "W", "B"], ["y"], "conv", { group: 2 });
    const m = op.gemm(node, [6, 2, 3, 3])!;
    expect(m).toEqual({ groups: 2, K: 18, N: 3, kStride: 1, nStride: 18, groupStride: 54 });
    // Group 1, output channel 0 is channel 3 of W; input 0 is its first element: 3 * 18.
    expect(at(m, 1, 0, 0)).toBe(54);
    expect(at(m, 1, 17, 2)).toBe(5 * 18 + 17);
  });

  it("depthwise (group = channels): one output channel per GEMM; a group that does not divide M has no layout", () => {
    const depthwise = makeNode("Conv", ["x", "W"], ["y"], "dw", { group: 4 });
    expect(op.gemm(depthwise, [4, 1, 3, 3])).toEqual({ groups: 4, K: 9, N: 1, kStride: 1, nStride: 9, groupStride: 9 });
    expect(op.gemm(makeNode("Conv", ["x", "W"], ["y"], "c", { group: 4 }), [6, 1, 3, 3])).toBeNull();
  });

  it("has its bias in input 2 and its channels on axis 1 of an output of the weight's rank", () => {
    expect(op.bias).toBe(2);
    expect(op.outputChannels([6, 4, 3, 3])).toEqual({ axis: -3, rank: 4 });
    expect(op.outputChannels([6, 4, 3])).toEqual({ axis: -2, rank: 3 });
  });
});

describe("what compression may do", () => {
  it("prunes MatMul, Gemm and Conv with every structure and quantizes them with every scheme", () => {
    for (const op of [OPERATORS.MatMul, OPERATORS.Gemm, OPERATORS.Conv]) {
      expect([...op.prune.structures].sort()).toEqual(["block", "channel", "n:m", "unstructured"]);
      expect([...op.quantize].sort()).toEqual(["dynamic", "static", "weight-only"]);
    }
    expect(OPERATORS.Conv.prune.maxRank).toBe(Infinity);
    expect(OPERATORS.Gemm.prune.maxRank).toBe(2);
  });

  it("quantizes Gather tables and recurrent weights weight-only (no integer form), ConvTranspose weight-only or static", () => {
    expect(OPERATORS.Gather.quantize).toEqual(["weight-only"]);
    for (const op of OPERATOR_FORMS.LSTM!) expect(op.quantize).toEqual(["weight-only"]);
    expect([...OPERATORS.ConvTranspose.quantize].sort()).toEqual(["static", "weight-only"]);
    expect(OPERATOR_FORMS.MatMul![1]!.quantize).not.toContain("dynamic");
  });
});

describe("the weights beyond MatMul/Gemm/Conv", () => {
  it("ConvTranspose: W [C_in, C_out/group, kh, kw] in input 1, output channels on axis 1, the bias in input 2", () => {
    const node = makeNode("ConvTranspose", ["x", "W", "B"], ["y"], "up");
    expect(OPERATORS.ConvTranspose.layout(node, [8, 4, 3, 3])).toEqual({ input: 1, outAxis: 1, inAxis: 0 });
    expect(OPERATORS.ConvTranspose.bias).toBe(2);
    expect(OPERATORS.ConvTranspose.outputChannels([8, 4, 3, 3])).toEqual({ axis: -3, rank: 4 });
  });

  it("MatMul with the constant on the left: W [M, K] in input 0, its rows are the output channels, the data is input 1", () => {
    const node = makeNode("MatMul", ["W", "x"], ["y"], "left");
    const layers = nodeWeights(node, new Map([["W", weight("W", [16, 32])]]));
    expect(layers.map((l) => l.operator.weight)).toEqual([0]);
    expect(layers[0]!.operator.layout(node, [16, 32])).toEqual({ input: 0, outAxis: 0, inAxis: 1 });
    expect(layers[0]!.operator.data).toBe(1);
    // Constant on both sides: the right one is the weight.
    const both = nodeWeights(node, new Map([["W", weight("W", [16, 32])], ["x", weight("x", [32, 4])]]));
    expect(both.map((l) => l.weight.name)).toEqual(["x"]);
  });

  it("Gather: a float table [V, D] in input 0 quantized per row; an integer table is data, not a weight", () => {
    const node = makeNode("Gather", ["E", "ids"], ["y"], "embed");
    const table = nodeWeights(node, new Map([["E", weight("E", [50, 16])]]));
    expect(table[0]!.operator.layout(node, [50, 16])).toEqual({ input: 0, outAxis: 0, inAxis: 1 });
    const ints = makeTensor("E", DT.INT64, [3], new Uint8Array(24));
    expect(nodeWeights(node, new Map([["E", ints]]))).toEqual([]);
  });

  it("Einsum: output channels along an index the weight shares with the output alone, the sum along one it shares with the data alone", () => {
    const layout = (equation: string, dims: number[], names = ["x", "W"]) => {
      const node = makeNode("Einsum", names, ["y"], "e", { equation });
      return nodeWeights(node, new Map([["W", weight("W", dims)]])).map((l) => l.operator.layout(node, dims));
    };
    expect(layout("bij,jk->bik", [4, 3])).toEqual([{ input: 1, outAxis: 1, inAxis: 0 }]);
    expect(layout("abc,cde->abde", [8, 2, 4])).toEqual([{ input: 1, outAxis: 2, inAxis: 0 }]);
    expect(layout("kj,bij->bik", [3, 4], ["W", "x"])).toEqual([{ input: 0, outAxis: 0, inAxis: 1 }]);
    expect(layout("bij,jk", [4, 3])).toEqual([{ input: 1, outAxis: 1, inAxis: 0 }]); // the implicit output "bik"
    expect(layout("...ij,...jk->...ik", [2, 4, 3])).toEqual([{ input: 1, outAxis: 2, inAxis: 1 }]);
    // No layout: an outer product (nothing summed), a diagonal, a rank the equation does not fit, an equation that
    // does not parse.
    for (const [equation, dims] of [["bi,j->bij", [3]], ["bj,jj->bj", [3, 3]], ["bij,jk->bik", [2, 4, 3]], ["bij,j!k->bik", [4, 3]]] as const) {
      expect(layout(equation, [...dims])).toEqual([null]);
    }
  });

  it("LSTM/GRU/RNN: W (input 1) and R (input 2), [directions, gates x hidden, in], one scale per gate row (axis 1)", () => {
    const node = makeNode("LSTM", ["x", "W", "R"], ["y"], "lstm", { hidden_size: 16 });
    const layers = nodeWeights(node, new Map([["W", weight("W", [1, 64, 8])], ["R", weight("R", [1, 64, 16])]]));
    expect(layers.map((l) => [l.weight.name, l.operator.layout(node, tensorDims(l.weight))])).toEqual([
      ["W", { input: 1, outAxis: 1, inAxis: 2 }],
      ["R", { input: 2, outAxis: 1, inAxis: 2 }],
    ]);
    expect(OPERATOR_FORMS.GRU!.map((o) => o.weight)).toEqual([1, 2]);
    expect(OPERATOR_FORMS.RNN!.map((o) => o.weight)).toEqual([1, 2]);
  });
});

describe("weightedOperator and weightedLayers", () => {
  // x -> MatMul(W1) -> h -> Relu -> r -> Gemm(W2, b2) -> z -> Add(z, r2) -> MatMul(z, x2) -> out;
  // plus a MatMul in a custom domain and a Conv whose weight is computed.
  const graph = makeGraph(
    [
      makeNode("MatMul", ["x", "W1"], ["h"], "fc1"),
      makeNode("Relu", ["h"], ["r"], "relu"),
      makeNode("Gemm", ["r", "W2", "b2"], ["z"], "", { transB: 1 }),
      makeNode("MatMul", ["z", "x2"], ["out"], "runtime"),
      makeNode("MatMul", ["z", "W1"], ["custom"], "custom", {}, "com.example"),
      makeNode("Conv", ["img", "computed"], ["c"], "conv"),
    ],
    "g",
    [makeValueInfo("x", DT.FLOAT, [1, 4]), makeValueInfo("x2", DT.FLOAT, [3, 2]), makeValueInfo("img", DT.FLOAT, [1, 1, 4, 4])],
    [makeValueInfo("out", DT.FLOAT, [1, 2])],
    [weight("W1", [4, 3]), weight("W2", [3, 3]), weight("b2", [3])],
  );

  it("finds the default-domain table ops whose weight input is an initializer, in graph order", () => {
    const layers = weightedLayers(graph);
    expect(layers.map((l) => [l.label, l.node.opType, l.weight.name])).toEqual([
      ["fc1", "MatMul", "W1"],
      ["z", "Gemm", "W2"],
    ]);
    expect(layers[1]!.operator).toBe(OPERATORS.Gemm);
  });

  it("knows an op in the default domain only", () => {
    expect(weightedOperator(graph.node[0]!)).toBe(OPERATORS.MatMul);
    expect(weightedOperator(makeNode("MatMul", [], [], "", {}, "ai.onnx"))).toBe(OPERATORS.MatMul);
    expect(weightedOperator(graph.node[1]!)).toBeUndefined();
    expect(weightedOperator(graph.node[4]!)).toBeUndefined();
  });

  it("labels a node by its name, else its first output, else its op type", () => {
    expect(nodeLabel(makeNode("MatMul", ["x", "W"], ["y"], "fc"))).toBe("fc");
    expect(nodeLabel(makeNode("MatMul", ["x", "W"], ["y"], ""))).toBe("y");
    expect(nodeLabel(makeNode("MatMul", ["x", "W"], [], ""))).toBe("MatMul");
  });
});

describe("weightedLayers in bodies", () => {
  // Loop body: MatMul(h, Wbody) with its own initializer, then MatMul(.., Wouter) reading the outer graph's; a body
  // input named like an outer initializer shadows it (it is not a constant there).
  const body = makeGraph(
    [makeNode("MatMul", ["h", "Wbody"], ["h1"], "inner1"), makeNode("MatMul", ["h1", "Wouter"], ["h2"], "inner2"), makeNode("MatMul", ["h2", "Wshadow"], ["h_out"], "inner3")],
    "body",
    [makeValueInfo("i", DT.INT64, []), makeValueInfo("c", DT.BOOL, []), makeValueInfo("h", DT.FLOAT, [1, 4]), makeValueInfo("Wshadow", DT.FLOAT, [4, 4])],
    [makeValueInfo("c", DT.BOOL, []), makeValueInfo("h_out", DT.FLOAT, [1, 4])],
    [weight("Wbody", [4, 4])],
  );
  const graph = makeGraph(
    [makeNode("MatMul", ["x", "Wouter"], ["h0"], "outer"), withGraphs(makeNode("Loop", ["n", "", "h0"], ["y"], "loop"), { body })],
    "g",
    [makeValueInfo("x", DT.FLOAT, [1, 4])],
    [makeValueInfo("y", DT.FLOAT, [1, 4])],
    [weight("Wouter", [4, 4]), weight("Wshadow", [4, 4])],
  );

  it("walks Loop bodies after their node: body initializers and outer constants, never a shadowed name", () => {
    expect(weightedLayers(graph).map((l) => [l.label, l.weight.name, l.nested, l.graph.name])).toEqual([
      ["outer", "Wouter", false, "g"],
      ["inner1", "Wbody", true, "body"],
      ["inner2", "Wouter", true, "body"],
    ]);
  });
});
