// Lifting opset 7-12 models to 13 (and on to 21): each op whose signature or meaning changed between 8 and 13 is
// rewritten to keep its meaning or refused with the reason. Each conversion is checked by running the original in
// onnxruntime-node at its own opset and the lifted model at the new one: the outputs must agree.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type ModelProto, type NodeProto, type TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo, type AttributeValue } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { liftDefaultOpset } from "@worker/onnx/lift";
import { makeTensor } from "@worker/onnx/tensor";
import { defaultOpset } from "@worker/onnx/validate";
import { buildCnn, rng } from "@test/support/models";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

interface OneNode {
  op: string;
  opset: number;
  inputs: number[][];
  outputs: { shape: number[]; type?: number }[];
  attrs?: Record<string, AttributeValue>;
  initializers?: TensorProto[];
}

function oneNode({ op, opset, inputs, outputs, attrs = {}, initializers = [] }: OneNode): ModelProto {
  const node = makeNode(op, [...inputs.map((_, i) => `x${i}`), ...initializers.map((t) => t.name)], outputs.map((_, i) => `y${i}`), "n", attrs);
  const g = makeGraph(
    [node],
    "g",
    inputs.map((s, i) => makeValueInfo(`x${i}`, DT.FLOAT, s)),
    outputs.map((o, i) => makeValueInfo(`y${i}`, o.type ?? DT.FLOAT, o.shape)),
    initializers,
  );
  return makeModel(g, { "": opset }, opset < 9 ? 3 : 6);
}

const int64 = (name: string, values: number[], dims = [values.length]) =>
  makeTensor(name, DT.INT64, dims, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));
const float32 = (name: string, values: number[], dims = [values.length]) => makeTensor(name, DT.FLOAT, dims, new Float32Array(values));

function lifted(model: ModelProto, to: number): ModelProto {
  const r = liftDefaultOpset(model, to);
  if ("reason" in r) throw new Error(r.reason);
  expect(defaultOpset(r.model)).toBe(to);
  return { ...r.model, irVersion: 10n };
}

function feedsFor(model: ModelProto, seed = 7): Record<string, ort.Tensor> {
  const next = rng(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph!.input) {
    if (model.graph!.initializer.some((t) => t.name === v.name)) continue;
    const t = v.type!.value;
    if (t.case !== "tensorType") throw new Error(`${v.name} is not a tensor`);
    const dims = t.value.shape!.dim.map((d) => Number(d.value.value));
    feeds[v.name] = floatTensor(Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => next() * 4 - 2), dims);
  }
  return feeds;
}

/** Largest difference between the outputs of the model and its lifted form (shapes must match). */
async function liftedDifference(model: ModelProto, to = 13, feeds = feedsFor(model)): Promise<number> {
  const before = await runReference(encodeModel(model), feeds);
  const after = await runReference(encodeModel(lifted(model, to)), feeds);
  let worst = 0;
  for (const [name, t] of Object.entries(before)) {
    expect(after[name]!.dims, name).toEqual(t.dims);
    const a = Array.from(after[name]!.data as ArrayLike<number | bigint>, Number);
    Array.from(t.data as ArrayLike<number | bigint>, Number).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - a[i]!))));
  }
  return worst;
}

const nodeOf = (m: ModelProto): NodeProto => m.graph!.node[0]!;
const liftedNode = (m: ModelProto, name: string): NodeProto => lifted(m, 13).graph!.node.find((n) => n.name === name)!;
const attrNames = (n: NodeProto) => n.attribute.map((a) => a.name).sort();
const refusal = (m: ModelProto, to = 13) => {
  const r = liftDefaultOpset(m, to);
  return "reason" in r ? r.reason : null;
};

describe("attributes that became inputs", () => {
  it("Slice-1 -> 10: starts, ends and axes become int64 inputs", async () => {
    const m = oneNode({ op: "Slice", opset: 9, inputs: [[4, 6]], outputs: [{ shape: [2, 3] }], attrs: { starts: [1, 2], ends: [3, 100], axes: [0, -1] } });
    m.graph!.output[0] = makeValueInfo("y0", DT.FLOAT, [2, 4]);
    const n = nodeOf(lifted(m, 13));
    expect(n.input).toHaveLength(4);
    expect(attrNames(n)).toEqual([]);
    expect(await liftedDifference(m)).toBe(0);
    expect(await liftedDifference(m, 21)).toBe(0);
  });

  it("Slice-1 without axes slices the first axes in order, as Slice-10 without an axes input does", async () => {
    const m = oneNode({ op: "Slice", opset: 9, inputs: [[4, 6]], outputs: [{ shape: [3, 6] }], attrs: { starts: [1], ends: [4] } });
    expect(nodeOf(lifted(m, 13)).input).toHaveLength(3);
    expect(await liftedDifference(m)).toBe(0);
  });

  it("TopK-1 -> 10: k becomes a one-element input; values and indices agree", async () => {
    const m = oneNode({ op: "TopK", opset: 9, inputs: [[3, 8]], outputs: [{ shape: [3, 3] }, { shape: [3, 3], type: DT.INT64 }], attrs: { k: 3 } });
    expect(nodeOf(lifted(m, 13)).input).toHaveLength(2);
    expect(await liftedDifference(m)).toBe(0);
  });

  it("Clip-6 -> 11: min and max become scalar inputs; one bound alone stays one", async () => {
    const both = oneNode({ op: "Clip", opset: 9, inputs: [[2, 5]], outputs: [{ shape: [2, 5] }], attrs: { min: { float: -0.5 }, max: { float: 0.75 } } });
    expect(nodeOf(lifted(both, 13)).input).toHaveLength(3);
    expect(await liftedDifference(both)).toBe(0);
    const maxOnly = oneNode({ op: "Clip", opset: 10, inputs: [[2, 5]], outputs: [{ shape: [2, 5] }], attrs: { max: { float: 6 } } });
    expect(nodeOf(lifted(maxOnly, 13)).input).toEqual(["x0", "", expect.any(String)]);
    expect(await liftedDifference(maxOnly, 21)).toBe(0);
    const minOnly = oneNode({ op: "Clip", opset: 10, inputs: [[2, 5]], outputs: [{ shape: [2, 5] }], attrs: { min: { float: 0 } } });
    expect(nodeOf(lifted(minOnly, 13)).input).toHaveLength(2);
    expect(await liftedDifference(minOnly)).toBe(0);
  });

  it("Pad-2 -> 11: pads become an input and a non-zero value a scalar input, the mode stays", async () => {
    const constant = oneNode({ op: "Pad", opset: 9, inputs: [[1, 2, 3, 3]], outputs: [{ shape: [1, 2, 5, 6] }], attrs: { pads: [0, 0, 1, 2, 0, 0, 1, 1], value: { float: 1.5 } } });
    expect(nodeOf(lifted(constant, 13)).input).toHaveLength(3);
    expect(await liftedDifference(constant)).toBe(0);
    const reflect = oneNode({ op: "Pad", opset: 10, inputs: [[1, 1, 4, 4]], outputs: [{ shape: [1, 1, 6, 6] }], attrs: { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: "reflect" } });
    expect(attrNames(nodeOf(lifted(reflect, 13)))).toEqual(["mode"]);
    expect(await liftedDifference(reflect, 21)).toBe(0);
  });

  it("Split-2/11 -> 13: sizes become an input (and stay one at 18); without sizes the parts stay equal", async () => {
    const sized = oneNode({ op: "Split", opset: 11, inputs: [[5, 2]], outputs: [{ shape: [2, 2] }, { shape: [3, 2] }], attrs: { axis: 0, split: [2, 3] } });
    expect(nodeOf(lifted(sized, 21)).input).toHaveLength(2);
    expect(await liftedDifference(sized)).toBe(0);
    expect(await liftedDifference(sized, 21)).toBe(0);
    const equal = oneNode({ op: "Split", opset: 9, inputs: [[6, 2]], outputs: [{ shape: [3, 2] }, { shape: [3, 2] }], attrs: { axis: 0 } });
    expect(await liftedDifference(equal, 21)).toBe(0);
  });

  it("Squeeze and Unsqueeze-11 -> 13: axes become an input; a Squeeze without axes still squeezes every 1", async () => {
    const sq = oneNode({ op: "Squeeze", opset: 11, inputs: [[2, 1, 3, 1]], outputs: [{ shape: [2, 3, 1] }], attrs: { axes: [1] } });
    expect(nodeOf(lifted(sq, 13)).input).toHaveLength(2);
    expect(await liftedDifference(sq)).toBe(0);
    const all = oneNode({ op: "Squeeze", opset: 9, inputs: [[2, 1, 3, 1]], outputs: [{ shape: [2, 3] }] });
    expect(nodeOf(lifted(all, 13)).input).toEqual(["x0"]);
    expect(await liftedDifference(all)).toBe(0);
    const unsq = oneNode({ op: "Unsqueeze", opset: 10, inputs: [[2, 3]], outputs: [{ shape: [1, 2, 3, 1] }], attrs: { axes: [0, 3] } });
    expect(await liftedDifference(unsq, 21)).toBe(0);
  });

  it("ReduceSum-11 -> 13: axes become an input, keepdims stays", async () => {
    const m = oneNode({ op: "ReduceSum", opset: 11, inputs: [[2, 3, 4]], outputs: [{ shape: [2, 4] }], attrs: { axes: [-2], keepdims: 0 } });
    expect(attrNames(nodeOf(lifted(m, 13)))).toEqual(["keepdims"]);
    expect(await liftedDifference(m)).toBeLessThanOrEqual(1e-6);
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-6);
  });
});

describe("Softmax, LogSoftmax and Hardmax at opset 13 (coerced to 2-D before)", () => {
  it("lifts where the axis is the input's last, writing the axis out", async () => {
    for (const op of ["Softmax", "LogSoftmax", "Hardmax"]) {
      const flat = oneNode({ op, opset: 11, inputs: [[3, 5]], outputs: [{ shape: [3, 5] }] });
      expect(nodeOf(lifted(flat, 13)).attribute.find((a) => a.name === "axis")?.i).toBe(-1n);
      expect(await liftedDifference(flat), op).toBeLessThanOrEqual(1e-6);
      const last = oneNode({ op, opset: 9, inputs: [[2, 3, 4]], outputs: [{ shape: [2, 3, 4] }], attrs: { axis: 2 } });
      expect(await liftedDifference(last, 21), op).toBeLessThanOrEqual(1e-6);
    }
  });

  it("finds the rank through the ops before it (Gemm's 2-D output)", async () => {
    const g = makeGraph(
      [makeNode("Gemm", ["x", "w"], ["h"], "fc"), makeNode("Softmax", ["h"], ["y"], "sm")],
      "g",
      [makeValueInfo("x", DT.FLOAT, [2, 3])],
      [makeValueInfo("y", DT.FLOAT, [2, 4])],
      [float32("w", Array.from({ length: 12 }, (_, i) => (i % 5) - 2), [3, 4])],
    );
    g.output[0] = makeValueInfo("y", DT.FLOAT, [2, 4]);
    expect(await liftedDifference(makeModel(g, { "": 11 }, 6), 21)).toBeLessThanOrEqual(1e-6);
  });

  it("follows ranks through the ops of a graph that states no intermediate shapes (tf2onnx's NHWC classifier head)", async () => {
    // Transpose -> Conv -> Relu -> Transpose -> ReduceMean(keepdims 0) -> Reshape -> MatMul -> Add -> Softmax: the
    // output's shape is not stated either, so the rank comes from the ops alone (4, 4, 4, 4, 2, 2, 2, 2).
    const next = rng(3);
    const g = makeGraph(
      [
        makeNode("Transpose", ["x"], ["nchw"], "t_in", { perm: [0, 3, 1, 2] }),
        makeNode("Conv", ["nchw", "w"], ["c"], "conv", { kernel_shape: [3, 3], auto_pad: "SAME_UPPER" }),
        makeNode("Relu", ["c"], ["r"], "relu"),
        makeNode("Transpose", ["r"], ["nhwc"], "t_out", { perm: [0, 2, 3, 1] }),
        makeNode("ReduceMean", ["nhwc"], ["gap"], "mean", { axes: [1, -2], keepdims: 0 }),
        makeNode("Reshape", ["gap", "flat"], ["f"], "flatten"),
        makeNode("MatMul", ["f", "fc"], ["mm"], "dense"),
        makeNode("Add", ["mm", "b"], ["logits"], "bias"),
        makeNode("Softmax", ["logits"], ["y"], "softmax"),
      ],
      "g",
      [makeValueInfo("x", DT.FLOAT, [2, 6, 6, 3])],
      [makeValueInfo("y", DT.FLOAT, [])],
      [
        float32("w", Array.from({ length: 4 * 3 * 9 }, () => next() - 0.5), [4, 3, 3, 3]),
        int64("flat", [2, 4]),
        float32("fc", Array.from({ length: 20 }, () => next() - 0.5), [4, 5]),
        float32("b", [0.1, -0.2, 0.3, 0, 0.5]),
      ],
    );
    const out = g.output[0]!.type!.value;
    if (out.case === "tensorType") out.value.shape = undefined;
    const m = makeModel(g, { "": 11 }, 6);
    expect(liftedNode(m, "softmax").attribute.find((a) => a.name === "axis")?.i).toBe(-1n);
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-6);
  });

  it("takes the rank from the Softmax's stated output where nothing before it fixes the input's", async () => {
    // Reshape to a shape the graph computes (Shape of a second input): no rank before the Softmax, [3, 4] after it.
    const g = makeGraph(
      [makeNode("Shape", ["like"], ["s"], "shape"), makeNode("Reshape", ["x", "s"], ["r"], "reshape"), makeNode("Softmax", ["r"], ["y"], "n")],
      "g",
      [makeValueInfo("x", DT.FLOAT, [12]), makeValueInfo("like", DT.FLOAT, [3, 4])],
      [makeValueInfo("y", DT.FLOAT, [3, 4])],
    );
    expect(await liftedDifference(makeModel(g, { "": 11 }, 6), 13)).toBeLessThanOrEqual(1e-6);
  });

  it("refuses an axis before the last (opset 13 would normalise one axis, not all from it) and an unknown rank", () => {
    const m = oneNode({ op: "Softmax", opset: 11, inputs: [[2, 3, 4]], outputs: [{ shape: [2, 3, 4] }] });
    expect(refusal(m)).toBe("lifting from opset 11: Softmax node 'n': Softmax before opset 13 normalises over axes 1..2 of its rank-3 input together; opset 13 normalises along one axis");
    // A constant target shape fixes Reshape's rank (3 here), and axis 1 of 3 is refused as above.
    const constantShape = makeGraph(
      [makeNode("Reshape", ["x", "shape"], ["r"], "reshape"), makeNode("LogSoftmax", ["r"], ["y"], "n")],
      "g",
      [makeValueInfo("x", DT.FLOAT, [2, 12])],
      [],
      [int64("shape", [2, 3, 4])],
    );
    expect(refusal(makeModel(constantShape, { "": 11 }, 6))).toMatch(/normalises over axes 1\.\.2 of its rank-3 input together/);
    // A target shape that is a graph input: its length, so the rank, is not known, and the output states none.
    const g = makeGraph(
      [makeNode("Reshape", ["x", "shape"], ["r"], "reshape"), makeNode("LogSoftmax", ["r"], ["y"], "n")],
      "g",
      [makeValueInfo("x", DT.FLOAT, [2, 12]), makeValueInfo("shape", DT.INT64, [null])],
      [],
    );
    expect(refusal(makeModel(g, { "": 11 }, 6))).toBe("lifting from opset 11: LogSoftmax node 'n': LogSoftmax before opset 13 normalises over every axis from 1 on, and the graph does not state its input's rank");
  });
});

describe("ops whose meaning or form changed otherwise", () => {
  it("Dropout-7 with a ratio lifts as the identity; a named mask (float before 10, bool after) is refused", async () => {
    const m = oneNode({ op: "Dropout", opset: 9, inputs: [[2, 5]], outputs: [{ shape: [2, 5] }], attrs: { ratio: { float: 0.3 } } });
    expect(attrNames(nodeOf(lifted(m, 13)))).toEqual([]);
    expect(await liftedDifference(m, 21)).toBe(0);
    const masked = oneNode({ op: "Dropout", opset: 9, inputs: [[2, 5]], outputs: [{ shape: [2, 5] }, { shape: [2, 5] }] });
    expect(refusal(masked)).toBe("lifting from opset 9: Dropout node 'n': Dropout's mask output changed type at opset 10");
  });

  it("BatchNormalization-7 with spatial = 1 drops the attribute; spatial = 0 is refused", async () => {
    const stats = [float32("scale", [1, 2]), float32("bias", [0.5, -1]), float32("mean", [0.1, -0.2]), float32("var", [1.5, 0.5])];
    const m = oneNode({ op: "BatchNormalization", opset: 7, inputs: [[1, 2, 3, 3]], outputs: [{ shape: [1, 2, 3, 3] }], attrs: { spatial: 1, epsilon: { float: 1e-5 } }, initializers: stats });
    expect(attrNames(nodeOf(lifted(m, 21)))).toEqual(["epsilon"]);
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-6);
    const perElement = oneNode({ op: "BatchNormalization", opset: 8, inputs: [[1, 2, 3, 3]], outputs: [{ shape: [1, 2, 3, 3] }], attrs: { spatial: 0 }, initializers: stats });
    expect(refusal(perElement)).toBe("lifting from opset 8: BatchNormalization node 'n': BatchNormalization with spatial = 0 (per-element statistics) was removed at opset 9");
  });

  it("Upsample-7 (scales attribute) and -9 (scales input) become Resize with opset 10's coordinates", async () => {
    const nearest = oneNode({ op: "Upsample", opset: 7, inputs: [[1, 2, 3, 3]], outputs: [{ shape: [1, 2, 6, 9] }], attrs: { scales: { floats: [1, 1, 2, 3] } } });
    const n = nodeOf(lifted(nearest, 13));
    expect(n.opType).toBe("Resize");
    expect(n.input[1]).toBe("");
    expect(await liftedDifference(nearest)).toBe(0);
    const linear = oneNode({ op: "Upsample", opset: 9, inputs: [[1, 1, 3, 4]], outputs: [{ shape: [1, 1, 6, 8] }], attrs: { mode: "linear" }, initializers: [float32("scales", [1, 1, 2, 2])] });
    expect(await liftedDifference(linear, 21)).toBeLessThanOrEqual(1e-6);
  });

  it("Resize-10 becomes Resize-13 with asymmetric coordinates (and floor for nearest); nearest shrinking is refused", async () => {
    const nearest = oneNode({ op: "Resize", opset: 10, inputs: [[1, 1, 3, 3]], outputs: [{ shape: [1, 1, 7, 5] }], attrs: { mode: "nearest" }, initializers: [float32("scales", [1, 1, 2.5, 1.7])] });
    expect(await liftedDifference(nearest)).toBe(0);
    const linear = oneNode({ op: "Resize", opset: 10, inputs: [[1, 2, 4, 4]], outputs: [{ shape: [1, 2, 6, 2] }], attrs: { mode: "linear" }, initializers: [float32("scales", [1, 1, 1.5, 0.5])] });
    expect(await liftedDifference(linear, 21)).toBeLessThanOrEqual(1e-6);
    const shrink = oneNode({ op: "Resize", opset: 10, inputs: [[1, 1, 4, 4]], outputs: [{ shape: [1, 1, 2, 2] }], initializers: [float32("scales", [1, 1, 0.5, 0.5])] });
    expect(refusal(shrink)).toBe("lifting from opset 10: Resize node 'n': Resize (nearest) shrinking an axis: opset 10's rounding there has no opset-13 mode");
  });

  it("Scatter-9 becomes ScatterElements", async () => {
    const m = oneNode({ op: "Scatter", opset: 9, inputs: [[3, 3], [2, 3]], outputs: [{ shape: [3, 3] }], attrs: { axis: 0 }, initializers: [] });
    // Scatter(data, indices, updates): indices are a constant here.
    const node = m.graph!.node[0]!;
    m.graph!.initializer.push(int64("indices", [1, 0, 2, 0, 2, 1], [2, 3]));
    node.input.splice(1, 1, "indices", "x1");
    const n = nodeOf(lifted(m, 21));
    expect(n.opType).toBe("ScatterElements");
    expect(await liftedDifference(m, 21)).toBe(0);
  });

  it("refuses Scan-8 (its batch axis went at 9)", () => {
    const scan = makeNode("Scan", ["", "x"], ["y"], "n", { num_scan_inputs: 1 });
    scan.attribute.push(create(AttributeProtoSchema, { name: "body", type: AT.GRAPH, g: makeGraph([], "body", [], []) }));
    const m = makeModel(makeGraph([scan], "g", [makeValueInfo("x", DT.FLOAT, [1, 2, 3])], [makeValueInfo("y", DT.FLOAT, [1, 2, 3])]), { "": 8 }, 3);
    expect(refusal(m)).toBe("lifting from opset 8: Scan node 'n' changed meaning at opset 9 (the batch axis and sequence_lens input were removed)");
  });
});

describe("whole models", () => {
  it("lifts an opset-11 CNN to 21 with the same outputs", async () => {
    const m = decodeModel(buildCnn(2, 11));
    expect(await liftedDifference(m, 21, { input: floatTensor(Array.from({ length: 144 }, (_, i) => Math.sin(i)), [1, 1, 12, 12]) })).toBeLessThanOrEqual(1e-6);
  });

  it("rewrites inside If branches, with the branch's constants in the branch", async () => {
    const branch = (axes: number[], name: string) =>
      makeGraph([makeNode("Unsqueeze", ["x"], [`${name}_y`], name, { axes })], name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [null, null, null])]);
    const iff = makeNode("If", ["cond"], ["y"], "if");
    iff.attribute.push(create(AttributeProtoSchema, { name: "then_branch", type: AT.GRAPH, g: branch([0], "a") }));
    iff.attribute.push(create(AttributeProtoSchema, { name: "else_branch", type: AT.GRAPH, g: branch([2], "b") }));
    const m = makeModel(makeGraph([iff], "g", [makeValueInfo("x", DT.FLOAT, [2, 3]), makeValueInfo("cond", DT.BOOL, [])], [makeValueInfo("y", DT.FLOAT, [null, null, null])]), { "": 11 }, 6);
    const l = lifted(m, 21);
    for (const a of l.graph!.node[0]!.attribute) expect(a.g!.initializer.map((t) => t.name)).toEqual([a.g!.node[0]!.input[1]]);
    for (const cond of [true, false]) {
      const feeds = { x: floatTensor([1, 5, 3, -2, 0, 4], [2, 3]), cond: new ort.Tensor("bool", [cond], []) };
      expect(await liftedDifference(m, 21, feeds)).toBe(0);
    }
  });
});
