import { describe, expect, it } from "vitest";
import { pruneModel } from "@worker/compress/prune";
import { quantizeModel } from "@worker/compress/quantize";
import { PruneRecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { densifyInitializers, sparsifyInitializers } from "@worker/onnx/sparse";
import { readFloat32 } from "@worker/onnx/tensor";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildMlp, randomInput } from "@test/support/models";
import { floatTensor, runReference } from "@test/support/ort-node";
import { maxRelDiff, runKernels } from "@test/support/engine";

const pruned = (sparsity: number) =>
  pruneModel(decodeModel(buildMlp([64, 128, 64, 10], 5)), PruneRecipeSchema.parse({ sparsity, scope: "per-layer" })).model;

async function outputs(bytes: Uint8Array) {
  return (await runReference(bytes, { input: floatTensor(randomInput(3 * 64, 8), [3, 64]) })).logits!.data as Float32Array;
}

describe("sparse initializers", () => {
  it("stores 90%-pruned float weights as COO sparse initializers that onnxruntime-node runs to the same outputs", async () => {
    const dense = pruned(0.9);
    const { model, tensors } = sparsifyInitializers(dense);
    validateModel(model);
    expect(tensors.map((t) => t.name).sort()).toEqual(["fc0.weight", "fc1.weight", "head.weight"]);
    for (const t of tensors) expect(t.sparseBytes).toBeLessThanOrEqual(t.denseBytes / 2);
    const s = model.graph!.sparseInitializer.find((x) => x.values!.name === "fc0.weight")!;
    expect(s.indices!.dataType).toBe(DT.INT64);
    expect(s.dims.map(Number)).toEqual([64, 128]);
    expect(Number(s.values!.dims[0])).toBe(Math.round(0.1 * 64 * 128));
    // Same parameter count and signature as the dense model; fewer bytes.
    expect(summarizeModel(model)).toEqual(summarizeModel(dense));
    const sparseBytes = encodeModel(model);
    const denseBytes = encodeModel(dense);
    expect(sparseBytes.byteLength).toBeLessThan(denseBytes.byteLength / 2);
    expect(Array.from(await outputs(sparseBytes))).toEqual(Array.from(await outputs(denseBytes)));
  });

  it("leaves tensors dense when the sparse form would not be at most half their size", () => {
    const { tensors } = sparsifyInitializers(pruned(0.5));
    expect(tensors).toEqual([]);
  });

  it("stores 97%-pruned int8 weights sparse after quantization, and they still run", async () => {
    const q = quantizeModel(pruned(0.97), { bits: 8 }).model;
    const { model, tensors } = sparsifyInitializers(q);
    expect(tensors.map((t) => t.name).sort()).toEqual(["fc0.weight_quantized", "fc1.weight_quantized", "head.weight_quantized"]);
    expect(model.graph!.sparseInitializer.every((s) => s.values!.dataType === DT.INT8)).toBe(true);
    expect(Array.from(await outputs(encodeModel(model)))).toEqual(Array.from(await outputs(encodeModel(q))));
  });

  it("densifies sparse initializers back to the exact dense weights", () => {
    const dense = pruned(0.9);
    const round = densifyInitializers(sparsifyInitializers(dense).model);
    expect(round.graph!.sparseInitializer).toHaveLength(0);
    for (const name of ["fc0.weight", "fc1.weight", "head.weight"]) {
      const a = readFloat32(dense.graph!.initializer.find((t) => t.name === name)!);
      const b = readFloat32(round.graph!.initializer.find((t) => t.name === name)!);
      expect(b).toEqual(a);
    }
  });

  it("stores a fully pruned layer with no values at all, densifies it to zeros, and the kernel engine serves it", async () => {
    const model = pruned(0.5);
    const fc1 = model.graph!.initializer.find((t) => t.name === "fc1.weight")!;
    fc1.rawData = new Uint8Array(fc1.rawData.byteLength);
    const sparse = sparsifyInitializers(model).model;
    const empty = sparse.graph!.sparseInitializer.find((x) => x.values!.name === "fc1.weight")!;
    expect(Number(empty.values!.dims[0])).toBe(0);
    const round = densifyInitializers(sparse);
    expect(round.graph!.sparseInitializer).toHaveLength(0);
    expect(readFloat32(round.graph!.initializer.find((t) => t.name === "fc1.weight")!).every((v) => v === 0)).toBe(true);
    const bytes = encodeModel(sparse);
    const feeds = { input: { dims: [3, 64], data: Float32Array.from(randomInput(3 * 64, 8)) } };
    const { outputs: got } = await runKernels(bytes, feeds);
    expect(maxRelDiff(got.logits!.data, await outputs(bytes))).toBeLessThan(1e-5);
  });
});
