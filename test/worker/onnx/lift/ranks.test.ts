// The output ranks lifting assumes (worker/onnx/lift/ranks.ts) against the ranks onnxruntime-node's outputs have: each
// op run alone at an opset before 13, its inputs' ranks known, its outputs' shapes left unstated; and the cases where
// the rank is not fixed by what the graph says, which must stay unknown rather than be guessed.
import { describe, expect, it } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo, type AttributeValue } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { outputRank } from "@worker/onnx/lift/ranks";
import { makeTensor } from "@worker/onnx/tensor";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

const int64 = (name: string, values: number[]) => makeTensor(name, DT.INT64, [values.length], new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));

interface Case {
  op: string;
  inputs: number[][];
  attrs?: Record<string, AttributeValue>;
  constants?: TensorProto[];
  /** Outputs the node names (the first unless said). */
  outputs?: number;
  /** int64 runtime inputs, by position (Gather's indices). */
  intInputs?: number[];
  /** int64 outputs, by position (ArgMax, Shape, MaxPool's indices). */
  intOutputs?: number[];
  /** Default 11. */
  opset?: number;
}

const CASES: Case[] = [
  { op: "Transpose", inputs: [[2, 3, 4]], attrs: { perm: [2, 0, 1] } },
  { op: "Conv", inputs: [[1, 2, 5, 5], [3, 2, 3, 3]] },
  { op: "MaxPool", inputs: [[1, 2, 6, 6]], attrs: { kernel_shape: [2, 2] }, outputs: 2, intOutputs: [1] },
  { op: "GlobalAveragePool", inputs: [[1, 3, 4, 4]] },
  { op: "ReduceMean", inputs: [[2, 3, 4, 5]], attrs: { axes: [1, -1], keepdims: 0 } },
  { op: "ReduceSum", inputs: [[2, 3, 4]], attrs: { axes: [1] } },
  { op: "ReduceMax", inputs: [[2, 3, 4]], attrs: { keepdims: 0 } },
  { op: "ArgMax", inputs: [[2, 3, 4]], attrs: { axis: 1, keepdims: 0 }, intOutputs: [0] },
  { op: "Reshape", inputs: [[2, 12]], constants: [int64("shape", [2, 3, -1, 1])] },
  { op: "Squeeze", inputs: [[2, 1, 3, 1]], attrs: { axes: [1, -1] } },
  { op: "Unsqueeze", inputs: [[2, 3]], attrs: { axes: [0, 3] } },
  { op: "Gather", inputs: [[5, 4], [2, 3]], attrs: { axis: 0 }, intInputs: [1] },
  { op: "Expand", inputs: [[3, 1]], constants: [int64("shape", [2, 1, 4])] },
  { op: "Add", inputs: [[4], [2, 3, 4]] },
  { op: "Where", inputs: [[1, 4], [3, 1], [2, 1, 1]] },
  { op: "MatMul", inputs: [[2, 3, 4], [4, 5]] },
  { op: "Gemm", inputs: [[2, 3], [3, 4]] },
  { op: "Flatten", inputs: [[2, 3, 4, 5]], attrs: { axis: 2 } },
  { op: "Split", inputs: [[6, 4]], attrs: { axis: 0 }, outputs: 2 },
  { op: "Concat", inputs: [[2, 3], [2, 3]], attrs: { axis: 1 } },
  { op: "Shape", inputs: [[2, 3, 4]], intOutputs: [0] },
  { op: "Pad", inputs: [[2, 3]], attrs: { pads: [1, 0, 0, 2] }, opset: 10 },
  { op: "Upsample", inputs: [[1, 1, 2, 2]], constants: [makeTensor("scales", DT.FLOAT, [4], new Float32Array([1, 1, 2, 2]))], opset: 9 },
];

/** The node alone at its opset, input ranks stated, output shapes not. */
function model(c: Case) {
  const names = c.inputs.map((_, i) => `x${i}`);
  const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`);
  const node = makeNode(c.op, [...names, ...(c.constants ?? []).map((t) => t.name)], outputs, "n", c.attrs ?? {});
  const g = makeGraph(
    [node],
    "g",
    c.inputs.map((s, i) => makeValueInfo(`x${i}`, c.op === "Where" && i === 0 ? DT.BOOL : c.intInputs?.includes(i) ? DT.INT64 : DT.FLOAT, s)),
    outputs.map((o, i) => makeValueInfo(o, c.intOutputs?.includes(i) ? DT.INT64 : DT.FLOAT, [])),
    c.constants ?? [],
  );
  for (const o of g.output) if (o.type?.value.case === "tensorType") o.type.value.value.shape = undefined;
  return { node, bytes: encodeModel(makeModel(g, { "": c.opset ?? 11 }, 6)) };
}

function feeds(c: Case): Record<string, ort.Tensor> {
  return Object.fromEntries(
    c.inputs.map((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      if (c.op === "Where" && i === 0) return [`x${i}`, new ort.Tensor("bool", Uint8Array.from({ length: n }, (_, k) => k % 2), s)];
      if (c.intInputs?.includes(i)) return [`x${i}`, new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, k) => BigInt(k % 3)), s)];
      return [`x${i}`, floatTensor(Float32Array.from({ length: n }, (_, k) => (k % 7) - 3), s)];
    }),
  );
}

describe("output ranks through the ops of opsets 7-12", () => {
  for (const c of CASES) {
    it(`${c.op} ${JSON.stringify(c.attrs ?? {})} on ${JSON.stringify(c.inputs)}: the rank onnxruntime's output has`, async () => {
      const { node, bytes } = model(c);
      const out = await runReference(bytes, feeds(c));
      const ranks = new Map(c.inputs.map((s, i) => [`x${i}`, s.length]));
      const constants = new Map((c.constants ?? []).map((t) => [t.name, t]));
      const rank = outputRank(node, (n) => ranks.get(n) ?? constants.get(n)?.dims.length, (n) => constants.get(n));
      for (const o of node.output) expect(rank, o).toBe(out[o]!.dims.length);
    });
  }

  it("leaves the rank unknown where the graph does not fix it", () => {
    const unknown = (n: string) => (n === "x" ? 3 : undefined);
    const none = () => undefined;
    // A target shape computed at run time; Squeeze of every 1 (how many there are is the data's); an input of unknown
    // rank into an elementwise op; a MatMul with a 1-D operand; an op the table does not know.
    expect(outputRank(makeNode("Reshape", ["x", "s"], ["y"], "n"), unknown, none)).toBeUndefined();
    expect(outputRank(makeNode("Squeeze", ["x"], ["y"], "n"), unknown, none)).toBeUndefined();
    expect(outputRank(makeNode("Relu", ["z"], ["y"], "n"), unknown, none)).toBeUndefined();
    expect(outputRank(makeNode("MatMul", ["x", "v"], ["y"], "n"), (n) => (n === "x" ? 3 : 1), none)).toBeUndefined();
    expect(outputRank(makeNode("NonZero", ["x"], ["y"], "n"), unknown, none)).toBeUndefined();
    // ReduceSum-13 with its axes as an input and noop_with_empty_axes: the rank depends on that input.
    expect(outputRank(makeNode("ReduceSum", ["x", "axes"], ["y"], "n", { keepdims: 0 }), unknown, none)).toBeUndefined();
    expect(outputRank(makeNode("ReduceSum", ["x"], ["y"], "n", { keepdims: 0, noop_with_empty_axes: 1 }), unknown, none)).toBeUndefined();
  });
});
