// Codebook (k-means weight sharing) variants: onnxruntime-node reads each weight back from the standard ONNX the
// encoding writes (indices + codebook + Gather), and the values it computes are checked against the float weights:
// at most 2^bits shared values per codebook, every weight at its nearest shared value, pruned zeros exact. The
// variant's outputs agree in onnxruntime-node, onnxruntime-web and the kernel engine.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { readFloat32 } from "@worker/onnx/tensor";
import { buildCnn, buildUnliftableMlp, mlpModel, randomInput, rng } from "@test/support/models";
import { floatTensor, readBack, runReference } from "@test/support/ort-node";
import { runKernels, maxRelDiff } from "@test/support/engine";
import { runWeb } from "@test/support/zoo-runs";
import { cosine } from "@test/support/zoo";

const recipe = (quantize: unknown, prune?: unknown) => RecipeSchema.parse({ quantize, ...(prune ? { prune } : {}) });

function originalWeight(model: ModelProto, name: string): Float32Array {
  return readFloat32(model.graph!.initializer.find((t) => t.name === name)!);
}

/** Each value's distance to its read-back value is the least over the shared values of its group. */
function expectNearest(original: Float32Array, got: Float32Array, groupOf: (i: number) => number) {
  const shared = new Map<number, Set<number>>();
  got.forEach((v, i) => shared.set(groupOf(i), (shared.get(groupOf(i)) ?? new Set()).add(v)));
  const farther: number[] = [];
  original.forEach((w, i) => {
    const d = Math.abs(w - got[i]!);
    for (const c of shared.get(groupOf(i))!) if (d > Math.abs(w - c) + 1e-7) farther.push(i);
  });
  expect(farther).toEqual([]);
  return shared;
}

const mlp = mlpModel([96, 128, 10], 3);
const mlpFeeds = { input: floatTensor(randomInput(4 * 96, 5), [4, 96]) };

describe("codebook quantization, per layer", () => {
  const result = compressModel(mlp, recipe({ codebook: { bits: 4 } }));
  const variant = decodeModel(result.bytes);

  it("shares at most 16 values per weight tensor, each weight at its nearest one", async () => {
    const fc0 = await readBack(variant, "fc0/MatMul", 1, [96, 128], mlpFeeds);
    const head = await readBack(variant, "head/Gemm", 1, [10, 128], mlpFeeds);
    for (const [original, got] of [[originalWeight(mlp, "fc0.weight"), fc0], [originalWeight(mlp, "head.weight"), head]] as const) {
      const shared = expectNearest(original, got, () => 0);
      expect(shared.get(0)!.size).toBeGreaterThan(8);
      expect(shared.get(0)!.size).toBeLessThanOrEqual(16);
    }
  });

  it("stores UINT4 indices and a 16-value codebook, and reports their sizes", () => {
    const t = result.tensors.find((r) => r.name === "fc0.weight")!;
    expect(t.codebook).toEqual({ scope: "per-layer", centroids: 16, codebooks: 1, indexBits: 4, indexBytes: (96 * 128) / 2, codebookBytes: 64 });
    const types = new Map(variant.graph!.initializer.map((i) => [i.name, i.dataType]));
    expect([...types.values()].filter((d) => d === DT.UINT4)).toHaveLength(2);
    expect(variant.graph!.initializer.some((i) => i.name === "fc0.weight")).toBe(false);
  });

  it("is at least 6x smaller than float32, counting the whole file", () => {
    expect(encodeModel(mlp).byteLength / result.bytes.byteLength).toBeGreaterThanOrEqual(6);
  });

  it("runs alike in onnxruntime-node, onnxruntime-web and the kernel engine (1e-4 relative), close to float32", async () => {
    const node = (await runReference(result.bytes, mlpFeeds)).logits!.data as Float32Array;
    const [web] = await runWeb(result.bytes, [mlpFeeds]);
    const engine = (await runKernels(result.bytes, { input: { dims: [4, 96], data: mlpFeeds.input.data as Float32Array } })).outputs.logits!.data;
    expect(maxRelDiff(web!.logits!, node)).toBeLessThan(1e-4);
    expect(maxRelDiff(engine, node)).toBeLessThan(1e-4);
    const float = (await runReference(encodeModel(mlp), mlpFeeds)).logits!.data as Float32Array;
    expect(cosine(node, float)).toBeGreaterThan(0.99);
  });

  it("is served by the engine on the lut4 kernel, its weights at half a byte each in kernel memory", async () => {
    const feeds = { input: { dims: [4, 96], data: mlpFeeds.input.data as Float32Array } };
    const { session } = await runKernels(result.bytes, feeds);
    expect(Object.values(session.kernels)).toEqual(["lut4", "lut4"]);
    const float = (await runKernels(encodeModel(mlp), feeds)).session;
    // 96 x 128 + 10 x 128 weights: 4 bytes each as float32, half a byte (plus padding, tables, bias) as indices.
    expect(session.weightBytes).toBeLessThan(float.weightBytes / 5);
  });

  it("gives the same bytes for the same recipe, and other bytes for another seed", () => {
    expect(compressModel(mlp, recipe({ codebook: { bits: 4 } })).bytes).toEqual(result.bytes);
    expect(compressModel(mlp, recipe({ codebook: { bits: 4, seed: 1 } })).bytes).not.toEqual(result.bytes);
  });
});

describe("codebook quantization, per channel", () => {
  it("shares at most 2^bits values per output channel (MatMul columns, Gemm rows)", async () => {
    const variant = decodeModel(compressModel(mlp, recipe({ codebook: { bits: 3, scope: "per-channel" } })).bytes);
    const fc0 = await readBack(variant, "fc0/MatMul", 1, [96, 128], mlpFeeds);
    const head = await readBack(variant, "head/Gemm", 1, [10, 128], mlpFeeds);
    const columns = expectNearest(originalWeight(mlp, "fc0.weight"), fc0, (i) => i % 128);
    const rows = expectNearest(originalWeight(mlp, "head.weight"), head, (i) => Math.floor(i / 128));
    expect(columns.size).toBe(128);
    expect(rows.size).toBe(10);
    for (const s of [...columns.values(), ...rows.values()]) expect(s.size).toBeLessThanOrEqual(8);
  });

  it("runs a CNN's per-channel variant close to float32 in onnxruntime-node, and alike on the kernel engine", async () => {
    const cnn = buildCnn(4);
    const bytes = compressModel(decodeModel(cnn), recipe({ codebook: { bits: 3, scope: "per-channel" } })).bytes;
    const feeds = { input: floatTensor(randomInput(2 * 144, 9), [2, 1, 12, 12]) };
    const got = (await runReference(bytes, feeds)).logits!.data as Float32Array;
    const float = (await runReference(cnn, feeds)).logits!.data as Float32Array;
    expect(cosine(got, float)).toBeGreaterThan(0.99);
    const engine = (await runKernels(bytes, { input: { dims: [2, 1, 12, 12], data: feeds.input.data as Float32Array } })).outputs.logits!.data;
    expect(maxRelDiff(engine, got)).toBeLessThan(1e-4);
  });

  it("leaves float, before clustering, the weights whose codebooks would outweigh them, and refuses a recipe that leaves them all", () => {
    // 256 floats per output channel of 9 (conv1) to 72 (conv2) weights; fc's 10 channels of 16 inputs likewise.
    expect(() => compressModel(decodeModel(buildCnn(4)), recipe({ codebook: { bits: 8, scope: "per-channel" } }))).toThrow(
      /the recipe changes no weight of this model: conv1.weight \(conv1\): 8 codebook\(s\) of 256 floats and their indices \(8264 bytes\) would outweigh the float weight \(288 bytes\)/,
    );
    // Per layer, the same 256 floats fit conv2 (1152 weights) but not conv1 (72) or fc (160).
    const r = compressModel(decodeModel(buildCnn(4)), recipe({ codebook: { bits: 8 } }));
    expect(r.tensors.map((t) => t.name)).toEqual(["conv2.weight"]);
    expect(r.skipped.map((s) => s.name).sort()).toEqual(["conv1.weight", "fc.weight"]);
  });
});

describe("index storage", () => {
  it("takes the narrowest container the model's opset offers: UINT2 to 2 bits, UINT4 to 4, else UINT8", () => {
    for (const [bits, indexBits] of [[2, 2], [3, 4], [4, 4], [6, 8], [8, 8]] as const) {
      const r = compressModel(mlp, recipe({ codebook: { bits } }));
      expect(r.tensors.map((t) => t.codebook!.indexBits)).toEqual([indexBits, indexBits]);
    }
  });

  it("keeps UINT8 indices on a model that cannot be lifted to opset 21, which still loads", async () => {
    const bytes = buildUnliftableMlp([16, 32, 4]);
    const r = compressModel(decodeModel(bytes), recipe({ codebook: { bits: 4 } }));
    expect(r.tensors.map((t) => t.codebook!.indexBits)).toEqual([8, 8]);
    const feeds = { input: floatTensor(randomInput(16, 2), [1, 16]) };
    const float = (await runReference(bytes, feeds)).logits!.data as Float32Array;
    expect(cosine((await runReference(r.bytes, feeds)).logits!.data as Float32Array, float)).toBeGreaterThan(0.99);
  });
});

describe("a model trained with weight sharing (the training script's deep-compression experiment)", () => {
  it("keeps its shared values exactly: 7 values and pruned zeros per layer become a 3-bit codebook, outputs unchanged", async () => {
    const shared = structuredClone(mlp);
    const next = rng(17);
    for (const t of shared.graph!.initializer.filter((i) => i.name.endsWith("weight"))) {
      const values = Array.from({ length: 7 }, () => Math.fround(next() - 0.5));
      const w = Float32Array.from(readFloat32(t), () => (next() < 0.6 ? 0 : values[Math.floor(next() * 7)]!));
      t.rawData = new Uint8Array(w.buffer);
    }
    const bytes = encodeModel(shared);
    const r = compressModel(shared, recipe({ codebook: { bits: 3 } }));
    expect(r.tensors.map((t) => t.maxAbsError)).toEqual([0, 0]);
    const float = (await runReference(bytes, mlpFeeds)).logits!.data as Float32Array;
    const got = (await runReference(r.bytes, mlpFeeds)).logits!.data as Float32Array;
    expect(maxRelDiff(got, float)).toBeLessThan(1e-6);
  });
});

describe("codebook after pruning (Deep Compression)", () => {
  it("keeps pruned weights exactly zero, outside the clusters", async () => {
    const r = compressModel(mlp, recipe({ codebook: { bits: 4 } }, { sparsity: 0.7, scope: "per-layer" }));
    const variant = decodeModel(r.bytes);
    const fc0 = await readBack(variant, "fc0/MatMul", 1, [96, 128], mlpFeeds);
    const original = originalWeight(mlp, "fc0.weight");
    const zeros = fc0.filter((v) => v === 0).length;
    expect(zeros / fc0.length).toBeGreaterThanOrEqual(0.69);
    // The surviving weights (the largest 30%) keep 15 shared values, none of them zero.
    const survivors = new Set(Array.from(fc0).filter((v) => v !== 0));
    expect(survivors.size).toBeLessThanOrEqual(15);
    expect(survivors.size).toBeGreaterThan(8);
    const threshold = Float32Array.from(original, Math.abs).sort()[Math.floor(0.7 * original.length)]!;
    original.forEach((w, i) => {
      if (Math.abs(w) > threshold) expect(fc0[i]).not.toBe(0);
    });
  });
});
