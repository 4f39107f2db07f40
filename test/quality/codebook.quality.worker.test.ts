// Codebook and product-quantization variants through the API in workerd, evaluated by the API on the MNIST CNN
// fixture (1000 test images): a 4-bit codebook per layer drops <= 0.2 points, reported beside uniform int4 made the
// same way, is smaller than int4, carries its index and codebook sizes per layer, is served; calibrated PQ (8-input
// sub-vectors, 256 centroids) drops <= 1.5 points at >= 20x smaller weights; a recipe error names its field.
import { describe, expect, inject, it } from "vitest";
import { api, expectError, postJson, uploadModel, pollJob } from "@test/support/api";

function fixture(file: string): Uint8Array {
  const b64 = inject("fixtures")[file];
  if (!b64) throw new Error(`fixture ${file} was not provided by the global setup`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Makes a variant with `eval` on the dataset: answered at once (201) or through a job (202). */
async function made(modelId: string, body: object): Promise<Record<string, any>> {
  const res = await postJson(`/v1/models/${modelId}/variants`, body);
  expect([201, 202]).toContain(res.status);
  const json = (await res.json()) as Record<string, any>;
  if (res.status === 201) return json;
  const done = await pollJob(`/v1/jobs/${json.id}`);
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe("succeeded");
  return done.result;
}

describe("codebook variants through the API", () => {
  it("mnist-cnn: a 4-bit codebook per layer drops <= 0.2 pt under eval, beside int4, and is served", async () => {
    const model = (await (await uploadModel(fixture("models/mnist-cnn.onnx"), { name: "mnist-cnn" })).json()) as { id: string; bytes: number };
    const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture("data/mnist-test-1000-img.npz") });
    const dataset = (await up.json()) as { id: string };
    const codebook = await made(model.id, { quantize: { codebook: { bits: 4 } }, eval: { dataset: dataset.id } });
    const int4 = await made(model.id, { quantize: { bits: 4 }, eval: { dataset: dataset.id } });
    console.log(JSON.stringify({ engine: codebook.engine, residentBytes: [codebook.residentBytes, int4.residentBytes], fp32: codebook.eval.accuracy.fp32, codebook4: codebook.eval.accuracy.variant, int4: int4.eval.accuracy.variant, bytes: { fp32: model.bytes, codebook4: codebook.bytes, int4: int4.bytes } }));
    // Points of 1000 images: 0.2 is exactly 2 images, compared with float slack.
    expect(codebook.eval.accuracy.drop).toBeLessThanOrEqual(0.2 + 1e-9);
    expect(codebook.bytes).toBeLessThan(int4.bytes);
    expect(codebook.bits).toBe(4);
    // The engine serves it on the lut4 kernel, indices at half a byte each: less resident than int4's bytes and scales.
    expect(codebook.engine).toBe("kernels");
    expect(codebook.residentBytes).toBeLessThanOrEqual(int4.residentBytes);
    expect(codebook.recipe.quantize).toEqual({ codebook: { bits: 4, scope: "per-layer", seed: 0, iterations: 1000 }, scheme: "weight-only" });
    for (const t of codebook.tensors) {
      expect(t.codebook).toMatchObject({ scope: "per-layer", centroids: 16, codebooks: 1, indexBits: 4, codebookBytes: 64 });
      expect(t.codebook.indexBytes).toBe(Math.ceil(t.shape.reduce((a: number, b: number) => a * b, 1) / 2));
    }
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${codebook.id}`, {
      inputs: { input: { type: "float32", dims: [1, 1, 28, 28], data: new Array(784).fill(0.5) } },
    });
    expect(infer.status).toBe(200);
    const again = await postJson(`/v1/models/${model.id}/variants`, { quantize: { codebook: { bits: 4 } } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(codebook.id);
  });

  it("mnist-cnn: product quantization calibrated on the dataset (a job collecting Hessians) drops <= 1.5 pt, >= 20x smaller in its weights", async () => {
    const model = (await (await uploadModel(fixture("models/mnist-cnn.onnx"), { name: "mnist-cnn" })).json()) as { id: string; bytes: number };
    const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture("data/mnist-test-1000-img.npz") });
    const dataset = (await up.json()) as { id: string };
    const pq = await made(model.id, { quantize: { pq: { subvector: 8, centroids: 256 }, calibration: { dataset: dataset.id, samples: 200 } }, eval: { dataset: dataset.id } });
    const fp32Bytes = pq.tensors.reduce((s: number, t: { shape: number[] }) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
    const stored = pq.tensors.reduce((s: number, t: { codebook: { indexBytes: number; codebookBytes: number } }) => s + t.codebook.indexBytes + t.codebook.codebookBytes, 0);
    console.log(JSON.stringify({ fp32: pq.eval.accuracy.fp32, pq: pq.eval.accuracy.variant, weightRatio: fp32Bytes / stored, fileRatio: model.bytes / pq.bytes, bits: pq.bits }));
    expect(pq.eval.accuracy.drop).toBeLessThanOrEqual(1.5);
    expect(fp32Bytes / stored).toBeGreaterThanOrEqual(20);
    for (const t of pq.tensors) expect(t.codebook).toMatchObject({ subvector: 8, centroids: 256, indexBits: 8 });
    expect(pq.skipped.map((s: { reason: string }) => s.reason).join("; ")).toMatch(/not a multiple of the sub-vector length 8/);
  });

  it("refuses a codebook of 9 bits with 400 invalid_recipe naming the field", async () => {
    const model = (await (await uploadModel(fixture("models/mnist-mlp.onnx"))).json()) as { id: string };
    const err = await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { codebook: { bits: 9 } } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/quantize\.codebook\.bits/);
  });
});
