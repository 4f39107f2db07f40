import { describe, expect, it } from "vitest";
import { pruneModel, type PruneResult } from "@worker/compress/prune";
import { PruneRecipeSchema } from "@worker/compress/recipe";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel, type ModelProto } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor, readFloat32, tensorDims } from "@worker/onnx/tensor";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildMlp, randomInput, randomWeights, rng } from "@test/support/models";
import { compareOutputs, floatTensor, runReference } from "@test/support/ort-node";

const channelRecipe = (sparsity: number, extra: Record<string, unknown> = {}) =>
  PruneRecipeSchema.parse({ sparsity, structure: "channel", ...extra });

/**
 * input [N,3,8,8] ─Conv c1(8, 3x3, pad 1)─BatchNormalization─Relu─Conv dw(depthwise, group 8, pad 1)─Relu
 *   ─Conv c2(16, 3x3)─Add(per-channel [16,1,1])─Relu─Flatten─Gemm fc(10, transB=1, K=16*6*6)─ logits
 */
function buildConvNet(): Uint8Array {
  const next = rng(17);
  const f = (name: string, dims: number[], fanIn: number, scale = 1) =>
    makeTensor(name, DT.FLOAT, dims, randomWeights(dims.reduce((a, b) => a * b, 1), fanIn, next).map((v) => v * scale));
  const pos = (name: string, n: number) => makeTensor(name, DT.FLOAT, [n], Float32Array.from({ length: n }, () => 0.5 + next()));
  const inits = [
    f("c1.weight", [8, 3, 3, 3], 27), f("c1.bias", [8], 27, 0.1),
    pos("bn.scale", 8), f("bn.bias", [8], 8, 0.1), f("bn.mean", [8], 8, 0.1), pos("bn.var", 8),
    f("dw.weight", [8, 1, 3, 3], 9), f("dw.bias", [8], 9, 0.1),
    f("c2.weight", [16, 8, 3, 3], 72), f("c2.bias", [16], 72, 0.1),
    f("shift", [16, 1, 1], 16, 0.1),
    f("fc.weight", [10, 576], 576), f("fc.bias", [10], 576, 0.1),
  ];
  const nodes = [
    makeNode("Conv", ["input", "c1.weight", "c1.bias"], ["c1"], "c1", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["bn"], "bn"),
    makeNode("Relu", ["bn"], ["r1"], "r1"),
    makeNode("Conv", ["r1", "dw.weight", "dw.bias"], ["dw"], "dw", { group: 8, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("Relu", ["dw"], ["r2"], "r2"),
    makeNode("Conv", ["r2", "c2.weight", "c2.bias"], ["c2"], "c2", { kernel_shape: [3, 3] }),
    makeNode("Add", ["c2", "shift"], ["shifted"], "add"),
    makeNode("Relu", ["shifted"], ["r3"], "r3"),
    makeNode("Flatten", ["r3"], ["flat"], "flatten", { axis: 1 }),
    makeNode("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], "fc", { transB: 1 }),
  ];
  const graph = makeGraph(nodes, "convnet", [makeValueInfo("input", DT.FLOAT, ["N", 3, 8, 8])], [makeValueInfo("logits", DT.FLOAT, ["N", 10])], inits);
  return encodeModel(makeModel(graph, { "": 13 }));
}

/** The masked-dense reference: the original model with the weights that read removed channels set to zero. */
function zeroReaders(bytes: Uint8Array, reads: { tensor: string; axis: number; indices: number[] }[]): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  graph.initializer = graph.initializer.map((t) => {
    const mine = reads.filter((r) => r.tensor === t.name);
    if (mine.length === 0) return t;
    const dims = tensorDims(t);
    const data = readFloat32(t);
    const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      for (const r of mine) if (r.indices.includes(Math.floor(i / strides[r.axis]!) % dims[r.axis]!)) data[i] = 0;
    }
    return makeTensor(t.name, DT.FLOAT, dims, data);
  });
  return encodeModel(model);
}

async function maxDiff(a: Uint8Array, b: Uint8Array, dims: number[]) {
  const input = floatTensor(randomInput(dims.reduce((x, y) => x * y, 1), 23), dims);
  const ya = (await runReference(a, { input })).logits!.data as Float32Array;
  const yb = (await runReference(b, { input })).logits!.data as Float32Array;
  return compareOutputs(ya, yb);
}

const layer = (r: PruneResult, name: string) => r.layers.find((l) => l.name === name)!;
const shapeOf = (m: ModelProto, name: string) => tensorDims(m.graph!.initializer.find((t) => t.name === name)!);

describe("channel pruning rewrite", () => {
  it("shrinks conv, BatchNormalization, depthwise, per-channel Add and Flatten->Gemm into a smaller valid model", () => {
    const result = pruneModel(decodeModel(buildConvNet()), channelRecipe(0.5, { scope: "per-layer" }));
    validateModel(result.model);
    expect(layer(result, "c1.weight").channels).toMatchObject({ before: 8, after: 4 });
    expect(layer(result, "c2.weight").channels).toMatchObject({ before: 16, after: 8 });
    const m = result.model;
    expect(shapeOf(m, "c1.weight")).toEqual([4, 3, 3, 3]);
    expect(shapeOf(m, "c1.bias")).toEqual([4]);
    for (const p of ["bn.scale", "bn.bias", "bn.mean", "bn.var", "dw.bias"]) expect(shapeOf(m, p)).toEqual([4]);
    expect(shapeOf(m, "dw.weight")).toEqual([4, 1, 3, 3]);
    expect(shapeOf(m, "c2.weight")).toEqual([8, 4, 3, 3]);
    expect(shapeOf(m, "shift")).toEqual([8, 1, 1]);
    expect(shapeOf(m, "fc.weight")).toEqual([10, 8 * 36]);
    const dw = m.graph!.node.find((n) => n.name === "dw")!;
    expect(Number(dw.attribute.find((a) => a.name === "group")!.i)).toBe(4);
    expect(summarizeModel(m).parameters).toBeLessThan(summarizeModel(decodeModel(buildConvNet())).parameters / 1.8);
    // Why the others stay: a grouped conv follows its input, and fc's output is the graph's.
    expect(result.skipped.map((s) => s.name).sort()).toEqual(["dw.weight", "fc.weight"]);
    expect(result.skipped.find((s) => s.name === "fc.weight")!.reason).toContain("graph output");
  });

  it("computes what the masked-dense model computes (onnxruntime-node, within 1e-5)", async () => {
    const original = buildConvNet();
    const result = pruneModel(decodeModel(original), channelRecipe(0.5, { scope: "per-layer" }));
    const c1 = layer(result, "c1.weight").channels!.removed;
    const c2 = layer(result, "c2.weight").channels!.removed;
    const masked = zeroReaders(original, [
      { tensor: "c2.weight", axis: 1, indices: c1 },
      { tensor: "fc.weight", axis: 1, indices: c2.flatMap((c) => Array.from({ length: 36 }, (_, s) => c * 36 + s)) },
    ]);
    const { maxAbsDiff, maxAbsRef } = await maxDiff(encodeModel(result.model), masked, [2, 3, 8, 8]);
    expect(maxAbsRef).toBeGreaterThan(0.1);
    expect(maxAbsDiff).toBeLessThan(1e-5);
  });

  it("prunes MLP hidden units (MatMul + bias + Relu -> next MatMul/Gemm) and matches the masked-dense MLP", async () => {
    const original = buildMlp([32, 64, 48, 10], 4);
    const result = pruneModel(decodeModel(original), channelRecipe(0.25));
    validateModel(result.model);
    const m = result.model;
    const k0 = layer(result, "fc0.weight").channels!;
    const k1 = layer(result, "fc1.weight").channels!;
    expect(k0.before - k0.after + k1.before - k1.after).toBe(Math.round(0.25 * (64 + 48)));
    expect(shapeOf(m, "fc0.weight")).toEqual([32, k0.after]);
    expect(shapeOf(m, "fc0.bias")).toEqual([k0.after]);
    expect(shapeOf(m, "fc1.weight")).toEqual([k0.after, k1.after]);
    expect(shapeOf(m, "head.weight")).toEqual([10, k1.after]);
    const masked = zeroReaders(original, [
      { tensor: "fc1.weight", axis: 0, indices: k0.removed },
      { tensor: "head.weight", axis: 1, indices: k1.removed },
    ]);
    const { maxAbsDiff } = await maxDiff(encodeModel(m), masked, [3, 32]);
    expect(maxAbsDiff).toBeLessThan(1e-5);
  });

  it("refuses channels that reach a residual Add or a Reshape, and shared weights, saying why", () => {
    // input ─MatMul a─Relu─MatMul b─Add(b, relu a)─Reshape─MatMul c(shared w)─MatMul d(shared w)─ out
    const next = rng(3);
    const w = (name: string, k: number, n: number) => makeTensor(name, DT.FLOAT, [k, n], randomWeights(k * n, k, next));
    const graph = makeGraph(
      [
        makeNode("MatMul", ["input", "a.w"], ["a"], "a"),
        makeNode("Relu", ["a"], ["ra"], "ra"),
        makeNode("MatMul", ["ra", "b.w"], ["b"], "b"),
        makeNode("Add", ["b", "ra"], ["sum"], "residual"),
        makeNode("MatMul", ["sum", "e.w"], ["e"], "e"),
        makeNode("Reshape", ["e", "shape"], ["reshaped"], "reshape"),
        makeNode("MatMul", ["reshaped", "s.w"], ["c"], "c"),
        makeNode("MatMul", ["c", "s.w"], ["out"], "d"),
      ],
      "refusals",
      [makeValueInfo("input", DT.FLOAT, ["N", 8])],
      [makeValueInfo("out", DT.FLOAT, ["N", 8])],
      [w("a.w", 8, 8), w("b.w", 8, 8), w("e.w", 8, 8), w("s.w", 8, 8), makeTensor("shape", DT.INT64, [2], new Int32Array([-1, -1, 8, 0]) /* int64 [-1, 8] */)],
    );
    const model = makeModel(graph, { "": 13 });
    const result = pruneModel(model, channelRecipe(0.5));
    const reason = (name: string) => result.skipped.find((s) => s.name === name)?.reason;
    expect(reason("a.w")).toMatch(/joins the channels with another branch/);
    expect(reason("b.w")).toMatch(/joins the channels with another branch/);
    expect(reason("e.w")).toMatch(/Reshape node 'reshape' may mix channels/);
    expect(reason("s.w")).toBe("weight is shared by several nodes");
    expect(result.layers).toEqual([]);
  });
});
