// Quality bars of codebook quantization (k-means weight sharing) on the MNIST reference models and the Fashion-MNIST
// CNN (test/fixtures/models/FASHION.md), measured with
// onnxruntime-node on the 1000 fixture test images beside uniform int4 (block 32): a 4-bit codebook per layer drops
// <= 0.2 pt; 3 bits per channel <= 2.0 pt (measured 0.0-0.1 on the MNIST models, 1.7 on Fashion-MNIST); on the 92%-pruned LeNet-300-100 (its zeros a cluster of their own) 4
// bits drop <= 0.2 pt.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { parseDataset } from "@worker/datasets/dataset";
import { argmaxRows } from "@worker/evaluate/error-stats";
import { ort, runReference } from "@test/support/ort-node";
import { hessians } from "@test/support/hessians";
import { quantizedInputHessians } from "@worker/compress/quantized-inputs";

const MODELS = [
  { name: "mnist-mlp", data: "mnist-test-1000.npz", dims: [784] },
  { name: "lenet-300-100", data: "mnist-test-1000.npz", dims: [784] },
  { name: "mnist-cnn", data: "mnist-test-1000-img.npz", dims: [1, 28, 28] },
  { name: "fashion-cnn", data: "fashion-test-1000-img.npz", dims: [1, 28, 28] },
];

async function load(file: string) {
  const d = await parseDataset(new Uint8Array(readFileSync(`test/fixtures/data/${file}`)), 1 << 30);
  return { x: d.inputs.get("input")!.data as Float32Array, y: Array.from(d.labels!.data as BigInt64Array, Number) };
}

async function accuracy(bytes: Uint8Array, x: Float32Array, y: number[], dims: number[]): Promise<number> {
  const out = (await runReference(bytes, { input: new ort.Tensor("float32", x, [y.length, ...dims]) })).logits!.data as Float32Array;
  return (100 * argmaxRows(out, 10).filter((p, i) => p === y[i]).length) / y.length;
}

/** Points are differences of percentages of 1000 images: compared with float slack (0.2 pt is exactly 2 images). */
const SLACK = 1e-9;

const compress = (bytes: Uint8Array, quantize: unknown) => compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize }), undefined, bytes.byteLength);

describe("codebook quality bars on the MNIST reference models and the Fashion-MNIST CNN", () => {
  for (const m of MODELS) {
    it(`${m.name}: a 4-bit codebook per layer drops <= 0.2 pt, 3 bits per channel <= 2.0 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      const rows = { int4: compress(bytes, { bits: 4 }), codebook4: compress(bytes, { codebook: { bits: 4 } }), codebook3: compress(bytes, { codebook: { bits: 3, scope: "per-channel" } }) };
      const acc: Record<string, number> = {};
      for (const [k, r] of Object.entries(rows)) acc[k] = await accuracy(r.bytes, x, y, m.dims);
      const ratio = Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, +(bytes.byteLength / r.bytes.byteLength).toFixed(2)]));
      console.log(JSON.stringify({ model: m.name, fp32, ...acc, ratio }));
      expect(fp32 - acc.codebook4!).toBeLessThanOrEqual(0.2 + SLACK);
      expect(fp32 - acc.codebook3!).toBeLessThanOrEqual(2.0 + SLACK);
    });
  }

  it("lenet-300-100 pruned to 92%: a 4-bit codebook (zeros outside the clusters) drops <= 0.2 pt", async () => {
    const bytes = new Uint8Array(readFileSync("test/fixtures/models/lenet-300-100-pruned92.onnx"));
    const { x, y } = await load("mnist-test-1000.npz");
    const fp32 = await accuracy(bytes, x, y, [784]);
    const r = compress(bytes, { codebook: { bits: 4 } });
    const got = await accuracy(r.bytes, x, y, [784]);
    console.log(JSON.stringify({ model: "lenet-300-100-pruned92", fp32, codebook4: got, ratio: +(bytes.byteLength / r.bytes.byteLength).toFixed(2) }));
    expect(fp32 - got).toBeLessThanOrEqual(0.2 + SLACK);
  });
});

/** FP32 weight bytes of the tensors a variant compressed, over the bytes of their indices and codebooks. */
function weightRatio(tensors: { shape: number[]; codebook?: { indexBytes: number; codebookBytes: number } }[]): number {
  const fp32 = tensors.reduce((s, t) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
  const stored = tensors.reduce((s, t) => s + t.codebook!.indexBytes + t.codebook!.codebookBytes, 0);
  return fp32 / stored;
}

describe("product quantization quality bars on the MNIST reference models and the Fashion-MNIST CNN", () => {
  for (const m of MODELS) {
    it(`${m.name}: sub-vectors of 8, 256 centroids, calibrated on 200 images: >= 20x smaller in the weights it takes, drop <= 1.5 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const per = m.dims.reduce((a, b) => a * b, 1);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      const recipe = RecipeSchema.parse({ quantize: { pq: { subvector: 8, centroids: 256 }, calibration: { dataset: "c".repeat(24) } } });
      // As the API calibrates: each layer's Hessian on its inputs with the layers upstream already quantized.
      const measure = (b: Uint8Array) => hessians(b, x.subarray(0, 200 * per), [200, ...m.dims]);
      const h = await quantizedInputHessians(decodeModel(bytes), recipe, await measure(bytes), async (b, layers) =>
        Object.fromEntries(Object.entries(await measure(b)).filter(([layer]) => layers.has(layer))),
      );
      const plain = compress(bytes, { pq: { subvector: 8, centroids: 256 } });
      const calibrated = compressModel(decodeModel(bytes), recipe, undefined, bytes.byteLength, h);
      const [accPlain, accCalibrated] = [await accuracy(plain.bytes, x, y, m.dims), await accuracy(calibrated.bytes, x, y, m.dims)];
      const row = {
        model: m.name,
        fp32,
        pq: accPlain,
        pqCalibrated: accCalibrated,
        weightRatio: +weightRatio(calibrated.tensors).toFixed(1),
        fileRatio: +(bytes.byteLength / calibrated.bytes.byteLength).toFixed(2),
        left: calibrated.skipped.map((s) => s.name),
      };
      console.log(JSON.stringify(row));
      expect(weightRatio(calibrated.tensors)).toBeGreaterThanOrEqual(20);
      expect(fp32 - accCalibrated).toBeLessThanOrEqual(1.5 + SLACK);
    });
  }
});
