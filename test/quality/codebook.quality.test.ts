// Quality bars of codebook quantization (k-means weight sharing) on the MNIST reference models, measured with
// onnxruntime-node on the 1000 fixture test images beside uniform int4 (block 32): a 4-bit codebook per layer drops
// <= 0.2 pt; 3 bits per channel <= 1.0 pt; on the 92%-pruned LeNet-300-100 (its zeros a cluster of their own) 4
// bits drop <= 0.2 pt.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { parseDataset } from "@worker/datasets/dataset";
import { argmaxRows } from "@worker/evaluate/error-stats";
import { ort, runReference } from "@test/support/ort-node";

const MODELS = [
  { name: "mnist-mlp", data: "mnist-test-1000.npz", dims: [784] },
  { name: "lenet-300-100", data: "mnist-test-1000.npz", dims: [784] },
  { name: "mnist-cnn", data: "mnist-test-1000-img.npz", dims: [1, 28, 28] },
];

async function load(file: string) {
  const d = await parseDataset(new Uint8Array(readFileSync(`test/fixtures/data/${file}`)), 1 << 30);
  return { x: d.inputs.get("input")!.data as Float32Array, y: Array.from(d.labels!.data as BigInt64Array, Number) };
}

async function accuracy(bytes: Uint8Array, x: Float32Array, y: number[], dims: number[]): Promise<number> {
  const out = (await runReference(bytes, { input: new ort.Tensor("float32", x, [y.length, ...dims]) })).logits!.data as Float32Array;
  return (100 * argmaxRows(out, 10).filter((p, i) => p === y[i]).length) / y.length;
}

const compress = (bytes: Uint8Array, quantize: unknown) => compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize }), undefined, bytes.byteLength);

describe("codebook quality bars on the MNIST reference models", () => {
  for (const m of MODELS) {
    it(`${m.name}: a 4-bit codebook per layer drops <= 0.2 pt, 3 bits per channel <= 1.0 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      const rows = { int4: compress(bytes, { bits: 4 }), codebook4: compress(bytes, { codebook: { bits: 4 } }), codebook3: compress(bytes, { codebook: { bits: 3, scope: "per-channel" } }) };
      const acc: Record<string, number> = {};
      for (const [k, r] of Object.entries(rows)) acc[k] = await accuracy(r.bytes, x, y, m.dims);
      const ratio = Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, +(bytes.byteLength / r.bytes.byteLength).toFixed(2)]));
      console.log(JSON.stringify({ model: m.name, fp32, ...acc, ratio }));
      expect(fp32 - acc.codebook4!).toBeLessThanOrEqual(0.2);
      expect(fp32 - acc.codebook3!).toBeLessThanOrEqual(1.0);
    });
  }

  it("lenet-300-100 pruned to 92%: a 4-bit codebook (zeros outside the clusters) drops <= 0.2 pt", async () => {
    const bytes = new Uint8Array(readFileSync("test/fixtures/models/lenet-300-100-pruned92.onnx"));
    const { x, y } = await load("mnist-test-1000.npz");
    const fp32 = await accuracy(bytes, x, y, [784]);
    const r = compress(bytes, { codebook: { bits: 4 } });
    const got = await accuracy(r.bytes, x, y, [784]);
    console.log(JSON.stringify({ model: "lenet-300-100-pruned92", fp32, codebook4: got, ratio: +(bytes.byteLength / r.bytes.byteLength).toFixed(2) }));
    expect(fp32 - got).toBeLessThanOrEqual(0.2);
  });
});
