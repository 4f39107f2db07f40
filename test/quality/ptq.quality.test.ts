// Quality bars of post-training quantization on the MNIST reference models (training issue's fixtures), measured
// with onnxruntime-node: int8 static per-channel drop <= 0.2 pt, int8 dynamic <= 0.3 pt, int4 block-32 <= 1.0 pt,
// 2-bit ternary block-32 <= 2.0 pt (measured 1.4-1.6), 1-bit per channel <= 15 pt (measured 11.6-13.4: binary
// post-training quantization is coarse; training for it is the remedy).
// The search bar (>= 6x smaller at maxAccuracyDrop 0.5) runs in workerd: test/quality/search.quality.worker.test.ts.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { calibrationTargets, makeCalibrator } from "@worker/compress/calibrate";
import { quantizeByRecipe } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { parseDataset } from "@worker/datasets/dataset";
import { argmaxRows } from "@worker/evaluate/error-stats";
import { ort, runReference } from "@test/support/ort-node";

const MODELS = [
  { name: "mnist-mlp", data: "mnist-test-1000.npz", dims: [784] },
  { name: "lenet-300-100", data: "mnist-test-1000.npz", dims: [784] },
  { name: "mnist-cnn", data: "mnist-test-1000-img.npz", dims: [1, 28, 28] },
];
const CALIBRATION = 200;

async function load(file: string) {
  const d = await parseDataset(new Uint8Array(readFileSync(`test/fixtures/data/${file}`)), 1 << 30);
  return { x: d.inputs.get("input")!.data as Float32Array, y: Array.from(d.labels!.data as BigInt64Array, Number), n: d.samples };
}

async function accuracy(bytes: Uint8Array, x: Float32Array, y: number[], dims: number[]): Promise<number> {
  const out = (await runReference(bytes, { input: new ort.Tensor("float32", x, [y.length, ...dims]) })).logits!.data as Float32Array;
  const pred = argmaxRows(out, 10);
  return (100 * pred.filter((p, i) => p === y[i]).length) / y.length;
}

describe("PTQ quality bars on the MNIST reference models", () => {
  for (const m of MODELS) {
    it(`${m.name}: int8 static per-channel drops <= 0.2 pt and int8 dynamic <= 0.3 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const per = m.dims.reduce((a, b) => a * b, 1);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      // Calibrate on the first 200 samples (minmax), evaluate on all 1000.
      const model = decodeModel(bytes);
      const targets = calibrationTargets(model);
      const exposed = encodeModel(withExtraOutputs(model, targets.filter((t) => t !== "input")));
      const calib = x.subarray(0, CALIBRATION * per);
      const out = await runReference(exposed, { input: new ort.Tensor("float32", calib, [CALIBRATION, ...m.dims]) });
      const ranges = Object.fromEntries(
        targets.map((t) => {
          const c = makeCalibrator("minmax");
          c.observe(t === "input" ? calib : (out[t]!.data as Float32Array));
          return [t, c.range()];
        }),
      );
      const stat = RecipeSchema.parse({ quantize: { bits: 8, scheme: "static", calibration: { dataset: "0".repeat(24) } } });
      const dyn = RecipeSchema.parse({ quantize: { bits: 8, scheme: "dynamic" } });
      const staticAcc = await accuracy(encodeModel(quantizeByRecipe(model, stat.quantize!, ranges).model), x, y, m.dims);
      const dynamicAcc = await accuracy(encodeModel(quantizeByRecipe(model, dyn.quantize!).model), x, y, m.dims);
      console.log(JSON.stringify({ model: m.name, fp32, static: staticAcc, dynamic: dynamicAcc }));
      expect(fp32 - staticAcc).toBeLessThanOrEqual(0.2);
      expect(fp32 - dynamicAcc).toBeLessThanOrEqual(0.3);
    });
  }

  for (const m of MODELS) {
    it(`${m.name}: int4 block-32 weight-only drops <= 1.0 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      const recipe = RecipeSchema.parse({ quantize: { bits: 4 } });
      const variant = encodeModel(quantizeByRecipe(decodeModel(bytes), recipe.quantize!).model);
      const int4 = await accuracy(variant, x, y, m.dims);
      console.log(JSON.stringify({ model: m.name, fp32, int4, block: 32, compressionRatio: bytes.byteLength / variant.byteLength }));
      expect(fp32 - int4).toBeLessThanOrEqual(1.0);
    });
  }

  for (const m of MODELS) {
    it(`${m.name}: 2-bit ternary (INT2, block 32) drops <= 2.0 pt and 1-bit (INT2 signs) <= 15 pt`, async () => {
      const bytes = new Uint8Array(readFileSync(`test/fixtures/models/${m.name}.onnx`));
      const { x, y } = await load(m.data);
      const fp32 = await accuracy(bytes, x, y, m.dims);
      const at = (bits: number) => encodeModel(quantizeByRecipe(decodeModel(bytes), RecipeSchema.parse({ quantize: { bits } }).quantize!).model);
      const [ternary, binary] = [at(2), at(1)];
      const [acc2, acc1] = [await accuracy(ternary, x, y, m.dims), await accuracy(binary, x, y, m.dims)];
      const ratio = (v: Uint8Array) => bytes.byteLength / v.byteLength;
      console.log(JSON.stringify({ model: m.name, fp32, bits2: acc2, bits1: acc1, ratio2: ratio(ternary), ratio1: ratio(binary) }));
      expect(fp32 - acc2).toBeLessThanOrEqual(2.0);
      expect(fp32 - acc1).toBeLessThanOrEqual(15);
    });
  }
});
