// Codebook and product-quantization variants through the API in workerd, evaluated by the API on the MNIST and
// Fashion-MNIST CNN fixtures (1000 test images each): a 4-bit codebook per layer drops <= 0.2 points, reported beside
// uniform int4 made the same way, is smaller than int4 in its file and in its packed weights, carries its index and
// codebook sizes per layer, is served;
// calibrated PQ (8-input sub-vectors, 256 centroids) drops <= 1.5 points at >= 20x smaller weights, reported beside PQ
// without calibration; a recipe error names its field. And Deep
// Compression done offline (the training script's deep-compression experiment) registers as a trained variant and serves.
import { describe, expect, inject, it } from "vitest";
import { api, expectError, postJson, uploadModel, pollJob } from "@test/support/api";
import { HELDOUT_FIXTURE } from "@test/support/reference-models";

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
  // The two trained CNN fixtures, each evaluated on its own first 1000 test images.
  const CNNS = [
    { name: "mnist-cnn", model: "models/mnist-cnn.onnx", data: "data/mnist-test-1000-img.npz" },
    { name: "fashion-cnn", model: "models/fashion-cnn.onnx", data: "data/fashion-test-1000-img.npz" },
  ];

  async function uploaded(c: (typeof CNNS)[number]): Promise<{ model: { id: string; bytes: number }; dataset: string }> {
    const model = (await (await uploadModel(fixture(c.model), { name: c.name })).json()) as { id: string; bytes: number };
    const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture(c.data) });
    return { model, dataset: ((await up.json()) as { id: string }).id };
  }

  it.each(CNNS)("$name: a 4-bit codebook per layer drops <= 0.2 pt under eval, beside int4, and is served", async (c) => {
    const { model, dataset } = await uploaded(c);
    const codebook = await made(model.id, { quantize: { codebook: { bits: 4 } }, eval: { dataset } });
    const int4 = await made(model.id, { quantize: { bits: 4 }, eval: { dataset } });
    console.log(JSON.stringify({ model: c.name, engine: codebook.engine, residentBytes: [codebook.residentBytes, int4.residentBytes], weightBytes: [codebook.weightBytes, int4.weightBytes], fp32: codebook.eval.accuracy.fp32, codebook4: codebook.eval.accuracy.variant, int4: int4.eval.accuracy.variant, bytes: { fp32: model.bytes, codebook4: codebook.bytes, int4: int4.bytes } }));
    // Points of 1000 images: 0.2 is exactly 2 images, compared with float slack.
    expect(codebook.eval.accuracy.drop).toBeLessThanOrEqual(0.2 + 1e-9);
    expect(codebook.bytes).toBeLessThan(int4.bytes);
    expect(codebook.bits).toBe(4);
    // The engine serves it on the lut4 kernel, indices at half a byte each: its packed weights take less than int4's
    // levels and scales (the convolutions' int4 levels ride on the int8 kernels at a byte each). Resident bytes also
    // count each route's activation scratch, which differs between the kernels.
    expect(codebook.engine).toBe("kernels");
    expect(codebook.weightBytes).toBeGreaterThan(0);
    expect(codebook.weightBytes).toBeLessThan(int4.weightBytes);
    expect(codebook.residentBytes).toBeGreaterThanOrEqual(codebook.weightBytes);
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

  it.each(CNNS)("$name: product quantization calibrated on the dataset (a job collecting Hessians) drops <= 1.5 pt, >= 20x smaller in its weights, beside PQ without calibration", async (c) => {
    const { model, dataset } = await uploaded(c);
    const pq = await made(model.id, { quantize: { pq: { subvector: 8, centroids: 256 }, calibration: { dataset, samples: 200 } }, eval: { dataset } });
    const plain = await made(model.id, { quantize: { pq: { subvector: 8, centroids: 256 } }, eval: { dataset } });
    const fp32Bytes = pq.tensors.reduce((s: number, t: { shape: number[] }) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
    const stored = pq.tensors.reduce((s: number, t: { codebook: { indexBytes: number; codebookBytes: number } }) => s + t.codebook.indexBytes + t.codebook.codebookBytes, 0);
    console.log(JSON.stringify({ model: c.name, fp32: pq.eval.accuracy.fp32, pq: pq.eval.accuracy.variant, pqUncalibrated: plain.eval.accuracy.variant, weightRatio: fp32Bytes / stored, fileRatio: model.bytes / pq.bytes, bits: pq.bits }));
    expect(pq.eval.accuracy.drop).toBeLessThanOrEqual(1.5);
    expect(fp32Bytes / stored).toBeGreaterThanOrEqual(20);
    expect(plain.bytes).toBe(pq.bytes);
    for (const t of pq.tensors) expect(t.codebook).toMatchObject({ subvector: 8, centroids: 256, indexBits: 8 });
    expect(pq.skipped.map((s: { reason: string }) => s.reason).join("; ")).toMatch(/not a multiple of the sub-vector length 8/);
  });

  it("refuses a codebook of 9 bits with 400 invalid_recipe naming the field", async () => {
    const model = (await (await uploadModel(fixture("models/mnist-mlp.onnx"))).json()) as { id: string };
    const err = await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { codebook: { bits: 9 } } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/quantize\.codebook\.bits/);
  });

  it("lenet-300-100 pruned 92% with 3-bit weight sharing offline: registered as a trained variant, served on the engine at an eighth of the float file, within 0.1 pt of its dense parent", async () => {
    const dense = (await (await uploadModel(fixture("models/deep-compression/lenet-300-100-dense.onnx"), { name: "lenet-300-100" })).json()) as { id: string; bytes: number };
    const shared = fixture("models/deep-compression/lenet-300-100-shared.onnx");
    const recipe = { trained: { method: "deep-compression", bits: 4, sparsity: 0.92, sharedValues: 8 } };
    const res = await api(`/v1/models/${dense.id}/variants/trained`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "X-Slimserve-Recipe": JSON.stringify(recipe) },
      body: shared,
    });
    expect(res.status).toBe(201);
    const variant = (await res.json()) as Record<string, any>;
    // 4-bit indices into each layer's 8 shared values: the file is about an eighth of the dense one.
    expect(variant.compressionRatio).toBeGreaterThan(7.5);
    expect(variant.engine).toBe("kernels");
    // Kept as indices and codebooks in kernel memory (whole 64 KiB pages): float weights alone would take dense.bytes.
    expect(variant.residentBytes).toBeLessThan(dense.bytes / 3);
    const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture(HELDOUT_FIXTURE) });
    const dataset = ((await up.json()) as { id: string }).id;
    const evaluated = await postJson(`/v1/models/${dense.id}/variants/${variant.id}/evaluate?wait=25`, { dataset });
    expect([200, 202]).toContain(evaluated.status);
    let report = (await evaluated.json()) as Record<string, any>;
    if (evaluated.status === 202) report = (await pollJob(`/v1/jobs/${report.id}`)).result;
    const { accuracy } = report.eval as { accuracy: { fp32: number; variant: number; drop: number } };
    console.log(JSON.stringify({ deepCompression: { ratio: variant.compressionRatio, residentBytes: variant.residentBytes, accuracy } }));
    // onnxruntime-node on the same 2000 held-out images (MNIST t10k 1000-2999): 63 errors dense, 64 shared.
    expect(accuracy.fp32).toBeCloseTo(1 - 63 / 2000, 9);
    expect(accuracy.variant).toBeCloseTo(1 - 64 / 2000, 9);
    expect(accuracy.drop).toBeLessThanOrEqual(0.1 + 1e-9);
  });
});

