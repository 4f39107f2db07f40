// Recipes with scale 'mse' (each group's scale clipped to its least squared error): absmax is the option's absence
// (existing ids stay), what the schema refuses, and whole models compressed with it: absmax's structure and size,
// deterministic, every weight at least as close, onnxruntime-node runs it, and at 4 bits the outputs of MLPs with
// Gaussian weights closer to FP32 on seeded inputs.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { compressModel } from "@worker/compress/pipeline";
import { canonicalJson, quantizeOptions, RecipeSchema } from "@worker/compress/recipe";
import { boundedRecipeProblem } from "@worker/compress/bounded";
import { MAX_MSE_SCALE_ELEMENTS } from "@worker/compress/quantize";
import { LimitError } from "@worker/onnx/limits";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor, readFloat32 } from "@worker/onnx/tensor";
import { buildCnn, mlpModel, rng } from "@test/support/models";
import { correlated, hessians, meanSquaredError } from "@test/support/hessians";

const DATASET = "a".repeat(24);
const canonical = (r: unknown) => canonicalJson(RecipeSchema.parse(r));
const issues = (r: unknown) => {
  const p = RecipeSchema.safeParse(r);
  return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

/** The model with every float initializer of 64 elements or more redrawn from a normal of the same spread (trained weights are bell-shaped, the builders' uniform). */
function gaussianized(model: ModelProto, seed: number): ModelProto {
  const next = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const initializer = model.graph!.initializer.map((t) => {
    const data = t.dataType === DT.FLOAT ? readFloat32(t) : undefined;
    if (!data || data.length < 64) return t;
    const std = Math.sqrt(data.reduce((s, w) => s + w * w, 0) / data.length);
    return makeTensor(t.name, DT.FLOAT, t.dims.map(Number), Float32Array.from(data, () => normal() * std));
  });
  return { ...model, graph: { ...model.graph!, initializer } };
}

describe("scale in recipes", () => {
  it("leaves 'absmax' out of the canonical form and keeps 'mse', at 8 and 4 bits", () => {
    expect(canonical({ quantize: { bits: 8, scale: "absmax" } })).toBe(canonical({ quantize: { bits: 8 } }));
    expect(canonical({ quantize: { bits: 4, scale: "absmax" } })).toBe(canonical({ quantize: { bits: 4 } }));
    expect(canonical({ quantize: { bits: 4, scale: "mse" } })).toContain('"scale":"mse"');
    expect(canonical({ quantize: { bits: 8, scale: "mse" } })).not.toBe(canonical({ quantize: { bits: 8 } }));
  });

  it("asks every 8- and 4-bit layer for it, overrides included, and no 2- or 1-bit one", () => {
    const q = RecipeSchema.parse({ quantize: { bits: 8, scale: "mse", overrides: { a: 4, b: 2, c: 1 } } }).quantize!;
    expect(quantizeOptions(q)).toMatchObject({ bits: 8, scale: "mse" });
    expect(quantizeOptions(q, 4)).toMatchObject({ bits: 4, scale: "mse" });
    expect(quantizeOptions(q, 2)).toEqual({ bits: 2, block: 32 });
    expect(quantizeOptions(q, 1)).toEqual({ bits: 1 });
    expect(quantizeOptions(RecipeSchema.parse({ quantize: { bits: 8 } }).quantize!)).not.toHaveProperty("scale");
  });

  it("refuses it with scheme dynamic, with zero points, and at widths whose grids are not absmax's", () => {
    expect(issues({ quantize: { bits: 8, scheme: "dynamic", scale: "mse" } })).toEqual([
      "quantize.scale: scale 'mse' applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)",
    ]);
    expect(issues({ quantize: { bits: 4, symmetric: false, scale: "mse" } })).toEqual([
      "quantize.scale: scale 'mse' clips symmetric grids; symmetric: false keeps each group's [min, max]",
    ]);
    for (const bits of [16, 2, 1]) expect(issues({ quantize: { bits, scale: "mse" } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { bits: 4, scale: "median" } }).length).toBeGreaterThan(0);
  });

  it("is refused where a model is compressed one weight at a time (its search holds several copies of the weight)", () => {
    expect(boundedRecipeProblem(RecipeSchema.parse({ quantize: { bits: 4, scale: "mse" } }))).toMatch(/scale 'mse' holds several copies/);
    expect(boundedRecipeProblem(RecipeSchema.parse({ quantize: { bits: 4 } }))).toBeNull();
  });
});

describe("compressing with scale 'mse'", () => {
  const sizes = [64, 96, 64, 10];
  const mlp = encodeModel(gaussianized(mlpModel(sizes, 3), 4));

  for (const quantize of [{ bits: 4 }, { bits: 4, granularity: "per-channel" }, { bits: 8 }, { bits: 8, granularity: "per-tensor" }, { bits: 8, granularity: { block: 32 } }]) {
    it(`${JSON.stringify(quantize)}: absmax's size and structure, deterministic, every weight at least as close, onnxruntime-node runs it`, async () => {
      const absmax = compressModel(decodeModel(mlp), RecipeSchema.parse({ quantize }));
      const recipe = RecipeSchema.parse({ quantize: { ...quantize, scale: "mse" } });
      const clipped = compressModel(decodeModel(mlp), recipe);
      expect(clipped.bytes.byteLength).toBe(absmax.bytes.byteLength);
      // At 8 bits a group of 64 Gaussian weights is best served by its absmax: the bytes may be absmax's.
      if (quantize.bits === 4) expect(clipped.bytes).not.toEqual(absmax.bytes);
      expect(compressModel(decodeModel(mlp), recipe).bytes).toEqual(clipped.bytes);
      expect(clipped.tensors.map((t) => t.name)).toEqual(absmax.tensors.map((t) => t.name));
      for (const [i, t] of clipped.tensors.entries()) {
        expect(t.compensated).toBeUndefined();
        expect(t.scaleMax).toBeLessThanOrEqual(absmax.tensors[i]!.scaleMax);
        expect(t.sqnrDb!).toBeGreaterThanOrEqual(absmax.tensors[i]!.sqnrDb! - 1e-9);
      }
      const x = correlated(128, sizes[0]!, 21);
      expect(Number.isFinite(await meanSquaredError(mlp, clipped.bytes, x, [128, sizes[0]!]))).toBe(true);
    });
  }

  // Closer weights are closer outputs on average, not on every network: summed over four Gaussian MLPs, on
  // independent uniform inputs. Per output channel (groups of 256-512) clipping gains most; blocks of 32 less.
  for (const [quantize, bound] of [[{ bits: 4, granularity: "per-channel" }, 0.8], [{ bits: 4 }, 0.95]] as const) {
    it(`${JSON.stringify(quantize)}: outputs of 256-512-256-10 MLPs with Gaussian weights closer to FP32 than absmax's (summed error < ${bound}x)`, async () => {
      const dims = [256, 512, 256, 10];
      let clippedErr = 0;
      let absmaxErr = 0;
      for (const seed of [3, 4, 5, 6]) {
        const bytes = encodeModel(gaussianized(mlpModel(dims, seed), seed + 1));
        const next = rng(seed + 50);
        const x = Float32Array.from({ length: 256 * dims[0]! }, () => next() * 2 - 1);
        const variant = (scale: object) => compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { ...quantize, ...scale } })).bytes;
        absmaxErr += await meanSquaredError(bytes, variant({}), x, [256, dims[0]!]);
        clippedErr += await meanSquaredError(bytes, variant({ scale: "mse" }), x, [256, dims[0]!]);
      }
      expect(clippedErr).toBeLessThan(bound * absmaxErr);
    });
  }

  it("refuses a weight over MAX_MSE_SCALE_ELEMENTS (413 naming it), and takes the model with that layer excluded", () => {
    const wide = mlpModel([2048, Math.ceil(MAX_MSE_SCALE_ELEMENTS / 2048) + 1, 4], 2);
    const err = (() => {
      try {
        compressModel(wide, RecipeSchema.parse({ quantize: { bits: 4, scale: "mse" } }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).code).toBe("payload_too_large");
    expect((err as Error).message).toMatch(/^weight 'fc0.weight' has \d+ elements; scale 'mse' takes weights of at most/);
    const r = compressModel(wide, RecipeSchema.parse({ quantize: { bits: 4, scale: "mse", exclude: ["fc0/MatMul"] } }));
    expect(r.tensors.map((t) => t.name)).toEqual(["head.weight"]);
  });

  it("a CNN's Conv and Gemm weights at int4, per output channel for Conv: every weight at least as close", () => {
    const cnn = encodeModel(gaussianized(decodeModel(buildCnn(2)), 5));
    const absmax = compressModel(decodeModel(cnn), RecipeSchema.parse({ quantize: { bits: 4 } }));
    const clipped = compressModel(decodeModel(cnn), RecipeSchema.parse({ quantize: { bits: 4, scale: "mse" } }));
    expect(clipped.tensors.map((t) => t.op).sort()).toEqual(absmax.tensors.map((t) => t.op).sort());
    expect(clipped.tensors.some((t) => t.op === "Conv")).toBe(true);
    for (const [i, t] of clipped.tensors.entries()) expect(t.sqnrDb!).toBeGreaterThanOrEqual(absmax.tensors[i]!.sqnrDb! - 1e-9);
    expect(clipped.tensors.reduce((s, t) => s + t.sqnrDb!, 0)).toBeGreaterThan(absmax.tensors.reduce((s, t) => s + t.sqnrDb!, 0));
  });

  it("with rounding 'gptq': GPTQ rounds on the clipped grid (compensated), and unseen inputs see less error than nearest on it", async () => {
    const unseen = correlated(256, sizes[0]!, 99);
    const h = await hessians(mlp, correlated(256, sizes[0]!, 5), [256, sizes[0]!]);
    const nearest = compressModel(decodeModel(mlp), RecipeSchema.parse({ quantize: { bits: 4, scale: "mse" } })).bytes;
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, scale: "mse", rounding: "gptq", calibration: { dataset: DATASET } } });
    const gptq = compressModel(decodeModel(mlp), recipe, undefined, undefined, h);
    expect(gptq.tensors.every((t) => t.compensated === true)).toBe(true);
    expect(gptq.bytes.byteLength).toBe(nearest.byteLength);
    const errNearest = await meanSquaredError(mlp, nearest, unseen, [256, sizes[0]!]);
    const errGptq = await meanSquaredError(mlp, gptq.bytes, unseen, [256, sizes[0]!]);
    expect(errGptq).toBeLessThan(errNearest);
  });
});
