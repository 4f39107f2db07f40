// Recipes with rounding 'gptq': their canonical form (nearest is the option's absence, so existing ids stay), what
// the schema refuses, and whole models compressed with Hessians collected by onnxruntime-node: standard ONNX that
// onnxruntime-node runs, deterministic, and closer to FP32 on unseen inputs than nearest rounding.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { HessianAccumulator, hessianTargets, type LayerHessians } from "@worker/compress/calibrate/hessian";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { buildMlp, rng } from "@test/support/models";
import { floatTensor, runReference } from "@test/support/ort-node";

const DATASET = "a".repeat(24);
const canonical = (r: unknown) => canonicalJson(RecipeSchema.parse(r));
const issues = (r: unknown) => {
  const p = RecipeSchema.safeParse(r);
  return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

/** Rows of correlated features (a few latent factors plus noise), as real activations are. */
function correlated(rows: number, k: number, seed: number): Float32Array {
  const next = rng(seed);
  const mixNext = rng(1234);
  const mix = Array.from({ length: 4 * k }, () => mixNext() * 2 - 1);
  const x = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: 4 }, () => next() * 2 - 1);
    for (let i = 0; i < k; i++) {
      let v = 0.1 * (next() * 2 - 1);
      for (let f = 0; f < 4; f++) v += z[f]! * mix[f * k + i]!;
      x[r * k + i] = v;
    }
  }
  return x;
}

/** Hessians of every MatMul/Gemm input, from onnxruntime-node (the independent executor) on `x`. */
async function hessians(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<LayerHessians> {
  const model = decodeModel(bytes);
  const targets = hessianTargets(model);
  const exposed = encodeModel(withExtraOutputs(model, targets.map((t) => t.activation).filter((a) => a !== "input")));
  const out = await runReference(exposed, { input: floatTensor(x, dims) });
  const result: LayerHessians = {};
  for (const t of targets) {
    const acc = new HessianAccumulator(t.features);
    acc.observe(t.activation === "input" ? x : (out[t.activation]!.data as Float32Array));
    result[t.activation] = { features: t.features, rows: acc.rows, matrix: acc.matrix() };
  }
  return result;
}

async function meanSquaredError(reference: Uint8Array, variant: Uint8Array, x: Float32Array, dims: number[]): Promise<number> {
  const a = (await runReference(reference, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
  const b = (await runReference(variant, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe("rounding in recipes", () => {
  it("spells 'gptq' out with its defaults, and leaves 'nearest' out of the canonical form", () => {
    expect(canonical({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } })).toContain(
      '"rounding":{"actOrder":false,"dampening":0.01,"method":"gptq"}',
    );
    expect(canonical({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } })).toBe(
      canonical({ quantize: { bits: 4, rounding: { method: "gptq", dampening: 0.01 }, calibration: { dataset: DATASET } } }),
    );
    expect(canonical({ quantize: { bits: 8, rounding: "nearest" } })).toBe(canonical({ quantize: { bits: 8 } }));
    expect(canonical({ quantize: { bits: 4, rounding: "nearest" } })).toBe(canonical({ quantize: { bits: 4 } }));
  });

  it("refuses gptq without calibration, with scheme dynamic, at widths it does not cover, and calibration alone on weight-only", () => {
    expect(issues({ quantize: { bits: 4, rounding: "gptq" } })).toEqual([expect.stringMatching(/^quantize.calibration: rounding 'gptq' needs calibration/)]);
    expect(issues({ quantize: { bits: 8, scheme: "dynamic", rounding: "gptq", calibration: { dataset: DATASET } } })).toContain(
      "quantize.rounding: rounding 'gptq' applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)",
    );
    expect(issues({ quantize: { bits: 16, rounding: "gptq", calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { bits: 8, calibration: { dataset: DATASET } } })).toEqual([expect.stringMatching(/^quantize.calibration: calibration applies to scheme 'static' or rounding 'gptq'/)]);
    expect(issues({ quantize: { bits: 4, rounding: { method: "gptq", dampening: 2 }, calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
  });
});

describe("compressing with GPTQ rounding", () => {
  const sizes = [48, 64, 32, 10];
  const bytes = buildMlp(sizes, 11);
  const calibration = correlated(256, sizes[0]!, 5);
  const unseen = correlated(256, sizes[0]!, 99);

  for (const quantize of [
    { bits: 4, granularity: { block: 16 } },
    { bits: 4, granularity: "per-channel" },
    { bits: 8 },
    { bits: 4, symmetric: false },
    { bits: 2, granularity: { block: 16 } },
    { bits: 1 },
  ]) {
    it(`${JSON.stringify(quantize)}: onnxruntime-node runs it, the bytes repeat, and unseen inputs see less error than nearest`, async () => {
      const h = await hessians(bytes, calibration, [256, sizes[0]!]);
      const nearest = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize })).bytes;
      const recipe = RecipeSchema.parse({ quantize: { ...quantize, rounding: "gptq", calibration: { dataset: DATASET } } });
      const gptq = compressModel(decodeModel(bytes), recipe, undefined, undefined, h);
      expect(gptq.tensors.length).toBe(3);
      expect(gptq.tensors.every((t) => t.bits === quantize.bits)).toBe(true);
      expect(gptq.bytes.byteLength).toBe(nearest.byteLength);
      expect(compressModel(decodeModel(bytes), recipe, undefined, undefined, h).bytes).toEqual(gptq.bytes);
      const errNearest = await meanSquaredError(bytes, nearest, unseen, [256, sizes[0]!]);
      const errGptq = await meanSquaredError(bytes, gptq.bytes, unseen, [256, sizes[0]!]);
      console.log(JSON.stringify({ quantize, errNearest, errGptq }));
      expect(errGptq).toBeLessThan(errNearest);
    });
  }

  it("needs the Hessians: without them the recipe does not compress as if it had", () => {
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } });
    expect(() => compressModel(decodeModel(bytes), recipe)).toThrow(/needs the calibration Hessians/);
  });
});
