// Each rewrite keeps its op's old meaning at the newer opset: the node's new form is checked, and the model is run
// in onnxruntime-node at its own opset and lifted, which must agree (to 1e-6).
import { describe, expect, it } from "vitest";
import type { ModelProto, NodeProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo, type AttributeValue } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { liftDefaultOpset } from "@worker/onnx/lift";
import { makeTensor } from "@worker/onnx/tensor";
import { rng } from "@test/support/models";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

function oneNode(op: string, opset: number, inShapes: number[][], outShapes: number[][], attrs: Record<string, AttributeValue> = {}, extra: { name: string; values: number[] }[] = []): ModelProto {
  const ins = inShapes.map((_, i) => `x${i}`);
  const outs = outShapes.map((_, i) => `y${i}`);
  const inits = extra.map((e) => makeTensor(e.name, DT.INT64, [e.values.length], new Uint8Array(BigInt64Array.from(e.values.map(BigInt)).buffer)));
  const node = makeNode(op, [...ins, ...extra.map((e) => e.name)], outs, "n", attrs);
  const g = makeGraph([node], "g", inShapes.map((s, i) => makeValueInfo(`x${i}`, DT.FLOAT, s)), outShapes.map((s, i) => makeValueInfo(`y${i}`, DT.FLOAT, s)), inits);
  return makeModel(g, { "": opset }, 8);
}

function lifted(model: ModelProto, to: number): ModelProto {
  const r = liftDefaultOpset(model, to);
  if ("reason" in r) throw new Error(r.reason);
  return { ...r.model, irVersion: 10n };
}

function feedsFor(model: ModelProto, seed = 3): Record<string, ort.Tensor> {
  const next = rng(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph!.input) {
    const t = v.type!.value;
    if (t.case !== "tensorType") throw new Error(`${v.name} is not a tensor`);
    const dims = t.value.shape!.dim.map((d) => Number(d.value.value));
    feeds[v.name] = floatTensor(Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1), dims);
  }
  return feeds;
}

/** Largest difference between the outputs of the model and its lifted form in onnxruntime-node. */
async function liftedDifference(model: ModelProto, to: number, feeds = feedsFor(model)): Promise<number> {
  const before = await runReference(encodeModel(model), feeds);
  const after = await runReference(encodeModel(lifted(model, to)), feeds);
  let worst = 0;
  for (const [name, t] of Object.entries(before)) {
    const a = after[name]!.data as Float32Array;
    expect(after[name]!.dims).toEqual(t.dims);
    (t.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - a[i]!))));
  }
  return worst;
}

const nodeOf = (m: ModelProto): NodeProto => m.graph!.node[0]!;
const attrNames = (n: NodeProto) => n.attribute.map((a) => a.name).sort();

describe("ReduceMean and the other Reduce ops at opset 18", () => {
  it("moves the axes attribute to an int64 input and keeps keepdims", async () => {
    const m = oneNode("ReduceMean", 13, [[2, 3, 4]], [[2, 4]], { axes: [1], keepdims: 0 });
    const l = lifted(m, 21);
    const n = nodeOf(l);
    expect(attrNames(n)).toEqual(["keepdims"]);
    expect(n.input).toHaveLength(2);
    const axes = l.graph!.initializer.find((t) => t.name === n.input[1])!;
    expect(axes.dataType).toBe(DT.INT64);
    expect(Array.from(new BigInt64Array(axes.rawData.slice().buffer))).toEqual([1n]);
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-6);
  });

  it("leaves a node without axes as it is: absent axes with noop_with_empty_axes' default reduce everything", async () => {
    for (const op of ["ReduceMax", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceProd"]) {
      const m = oneNode(op, 13, [[2, 3]], [[1, 1]]);
      const n = nodeOf(lifted(m, 25));
      expect(n.input).toEqual(["x0"]);
      expect(attrNames(n)).toEqual([]);
      expect(await liftedDifference(m, 25)).toBeLessThanOrEqual(1e-6);
    }
  });

  it("keeps negative and several axes with the default keepdims", async () => {
    const m = oneNode("ReduceMin", 17, [[2, 3, 4]], [[2, 1, 1]], { axes: [-1, 1] });
    expect(await liftedDifference(m, 25)).toBeLessThanOrEqual(1e-6);
  });

  it("does not touch a model already at opset 18, whose axes are an input", () => {
    const m = oneNode("ReduceMean", 18, [[2, 3]], [[2, 1]], {}, [{ name: "axes", values: [1] }]);
    expect(nodeOf(lifted(m, 21))).toBe(nodeOf(m));
  });
});

describe("Split at opset 18", () => {
  it("gives a Split without sizes num_outputs = its output count", async () => {
    const m = oneNode("Split", 13, [[6, 2]], [[2, 2], [2, 2], [2, 2]], { axis: 0 });
    const n = nodeOf(lifted(m, 21));
    expect(n.attribute.find((a) => a.name === "num_outputs")?.i).toBe(3n);
    expect(await liftedDifference(m, 21)).toBe(0);
  });

  it("leaves a Split with a sizes input as it is", async () => {
    const m = oneNode("Split", 13, [[5, 2]], [[2, 2], [3, 2]], { axis: 0 }, [{ name: "sizes", values: [2, 3] }]);
    expect(attrNames(nodeOf(lifted(m, 25)))).toEqual(["axis"]);
    expect(await liftedDifference(m, 25)).toBe(0);
  });
});

describe("RoiAlign at opset 16", () => {
  it("spells out RoiAlign-10's output_half_pixel, which 16's default (half_pixel) is not", async () => {
    const m = oneNode("RoiAlign", 13, [[1, 2, 6, 6], [2, 4]], [[2, 2, 3, 3]], { output_height: 3, output_width: 3, sampling_ratio: 2 });
    // batch_indices as an initializer, rois inside the image.
    m.graph!.initializer.push(makeTensor("batch", DT.INT64, [2], new Uint8Array(new BigInt64Array([0n, 0n]).buffer)));
    m.graph!.node[0]!.input.push("batch");
    const feeds = feedsFor(m);
    feeds.x1 = floatTensor([0.5, 0.5, 4.5, 3.5, 1, 2, 5, 5], [2, 4]);
    const n = nodeOf(lifted(m, 21));
    expect(new TextDecoder().decode(n.attribute.find((a) => a.name === "coordinate_transformation_mode")!.s)).toBe("output_half_pixel");
    expect(await liftedDifference(m, 21, feeds)).toBeLessThanOrEqual(1e-6);
  });

  it("refuses to lift RoiAlign to 25: onnxruntime 1.30 has no RoiAlign-22 kernel", () => {
    const m = oneNode("RoiAlign", 13, [[1, 2, 6, 6], [2, 4], [2]], [[2, 2, 1, 1]]);
    expect(liftDefaultOpset(m, 25)).toEqual({ reason: "lifting from opset 13: RoiAlign node 'n': onnxruntime 1.30 has no RoiAlign-22 kernel" });
  });
});

describe("GridSample at opset 20", () => {
  it("renames bilinear to linear and computes the same", async () => {
    const m = oneNode("GridSample", 16, [[1, 1, 4, 4], [1, 3, 3, 2]], [[1, 1, 3, 3]], { mode: "bilinear", align_corners: 1 });
    expect(new TextDecoder().decode(nodeOf(lifted(m, 21)).attribute.find((a) => a.name === "mode")!.s)).toBe("linear");
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-6);
  });
});

describe("DFT at opset 20", () => {
  it("writes the old axis (default 1) as an input, since the new default is -2", async () => {
    const m = oneNode("DFT", 17, [[2, 4, 3, 1]], [[2, 4, 3, 2]]);
    const l = lifted(m, 21);
    const n = nodeOf(l);
    expect(n.input).toHaveLength(3);
    expect(n.input[1]).toBe("");
    const axis = l.graph!.initializer.find((t) => t.name === n.input[2])!;
    expect(axis.dims).toEqual([]);
    expect(Array.from(new BigInt64Array(axis.rawData.slice().buffer))).toEqual([1n]);
    expect(await liftedDifference(m, 21)).toBeLessThanOrEqual(1e-5 * 4);
  });
});

describe("BatchNormalization at opset 14", () => {
  it("lifts an inference node and refuses one with training outputs", async () => {
    const params = [[3], [3], [3], [3]];
    const m = oneNode("BatchNormalization", 13, [[2, 3, 2], ...params], [[2, 3, 2]]);
    const feeds = feedsFor(m);
    feeds.x4 = floatTensor([0.5, 1, 2], [3]);
    expect(await liftedDifference(m, 21, feeds)).toBeLessThanOrEqual(1e-6);
    const training = oneNode("BatchNormalization", 13, [[2, 3, 2], ...params], [[2, 3, 2], [3], [3]]);
    expect(liftDefaultOpset(training, 21)).toEqual({
      reason: "lifting from opset 13: BatchNormalization node 'n': BatchNormalization with training outputs changed meaning at opset 14",
    });
  });
});
