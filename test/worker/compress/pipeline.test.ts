import { describe, expect, it } from "vitest";
import { calibrationTargets, makeCalibrator, type ActivationRanges, type CalibrationMethod } from "@worker/compress/calibrate";
import { compressModel, NothingToCompressError, quantizeByRecipe, RecipeMismatchError } from "@worker/compress/pipeline";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { calibrationOf, RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildCnn, buildMlp, buildUnliftableMlp, mlpModel, randomInput } from "@test/support/models";
import { compareOutputs, floatTensor, ort, runReference } from "@test/support/ort-node";

const recipe = (q: Record<string, unknown>) => RecipeSchema.parse({ quantize: { bits: 8, ...q } }).quantize!;

/** Activation ranges collected with onnxruntime-node (the independent executor) on `batches` inputs. */
async function calibrate(bytes: Uint8Array, dims: number[], method: CalibrationMethod, seeds: number[]): Promise<ActivationRanges> {
  const model = decodeModel(bytes);
  const targets = calibrationTargets(model);
  const exposed = encodeModel(withExtraOutputs(model, targets));
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator(method)]));
  for (const seed of seeds) {
    const out = await runReference(exposed, { input: floatTensor(randomInput(dims.reduce((a, b) => a * b, 1), seed), dims) });
    for (const t of targets) calibrators.get(t)!.observe((t === "input" ? floatTensor(randomInput(dims.reduce((a, b) => a * b, 1), seed), dims) : out[t]!).data as Float32Array);
  }
  return Object.fromEntries([...calibrators].map(([t, c]) => [t, c.range()]));
}

async function relativeError(original: Uint8Array, quantized: Uint8Array, dims: number[], seed: number) {
  const input = floatTensor(randomInput(dims.reduce((a, b) => a * b, 1), seed), dims);
  const ref = (await runReference(original, { input })).logits!.data as Float32Array;
  const got = (await runReference(quantized, { input })).logits!.data as Float32Array;
  const { maxAbsDiff, maxAbsRef } = compareOutputs(got, ref);
  return maxAbsDiff / maxAbsRef;
}

describe("quantizeByRecipe, scheme static", () => {
  for (const method of ["minmax", "percentile"] as const) {
    it(`puts uint8 QDQ on every layer input (${method}) and stays within 5% of fp32 in onnxruntime-node`, async () => {
      const original = buildMlp([64, 128, 128, 10]);
      const ranges = await calibrate(original, [16, 64], method, [1, 2, 3, 4]);
      expect(Object.keys(ranges).sort()).toEqual(["fc0.out", "fc1.out", "input"]);
      const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24), method } }), ranges);
      validateModel(r.model);
      expect(summarizeModel(r.model).ops).toMatchObject({ QuantizeLinear: 3, DequantizeLinear: 6, MatMul: 2, Gemm: 1 });
      expect(r.activations.map((a) => a.name).sort()).toEqual(["fc0.out", "fc1.out", "input"]);
      for (const a of r.activations) if (a.name !== "input") expect(a.zeroPoint).toBe(0); // post-ReLU
      expect(await relativeError(original, encodeModel(r.model), [8, 64], 99)).toBeLessThan(0.05);
    });
  }

  it("entropy clips the long tails of post-ReLU activations (narrower than minmax) and still runs close to fp32", async () => {
    const original = buildMlp([64, 128, 128, 10]);
    const seeds = Array.from({ length: 8 }, (_, i) => i + 1);
    const minmax = await calibrate(original, [32, 64], "minmax", seeds);
    const entropy = await calibrate(original, [32, 64], "entropy", seeds);
    for (const t of ["fc0.out", "fc1.out"]) {
      expect(entropy[t]!.max).toBeLessThan(minmax[t]!.max);
      expect(entropy[t]!.max).toBeGreaterThan(0.3 * minmax[t]!.max);
    }
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24), method: "entropy" } }), entropy);
    // Random-weight logits depend on the clipped tail more than a trained model's would: a looser bound.
    expect(await relativeError(original, encodeModel(r.model), [8, 64], 99)).toBeLessThan(0.35);
  });

  it("quantizes the CNN's conv inputs too", async () => {
    const original = buildCnn();
    const ranges = await calibrate(original, [4, 1, 12, 12], "minmax", [5, 6]);
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24) } }), ranges);
    expect(r.activations).toHaveLength(3);
    expect(await relativeError(original, encodeModel(r.model), [2, 1, 12, 12], 98)).toBeLessThan(0.05);
  });

  it("lifts a model below opset 10 (no QuantizeLinear) to 13 when no node's meaning changes, with the ranges calibrated on the original", async () => {
    const original = buildCnn(2, 9);
    const ranges = await calibrate(original, [4, 1, 12, 12], "minmax", [5, 6]);
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24) } }), ranges);
    validateModel(r.model);
    expect(r.model.opsetImport.find((o) => o.domain === "")?.version).toBe(13n);
    expect(r.activations).toHaveLength(3);
    expect(summarizeModel(r.model).ops).toMatchObject({ QuantizeLinear: 3 });
    expect(await relativeError(original, encodeModel(r.model), [2, 1, 12, 12], 98)).toBeLessThan(0.05);
  });

  it("lifts an opset-10 model to 13 too: onnxruntime's default optimizations add a Round (opset 11) to quantize a QDQ Conv's bias", async () => {
    const original = buildCnn(2, 10);
    const ranges = await calibrate(original, [4, 1, 12, 12], "minmax", [5, 6]);
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24) } }), ranges);
    expect(r.model.opsetImport.find((o) => o.domain === "")?.version).toBe(13n);
    const session = await ort.InferenceSession.create(encodeModel(r.model)); // default options: every optimization
    const out = await session.run({ input: floatTensor(randomInput(144, 3), [1, 1, 12, 12]) });
    expect((out.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
    await session.release();
  });

  it("refuses a model below opset 10 that cannot be lifted, naming why", () => {
    expect(() => quantizeByRecipe(decodeModel(buildUnliftableMlp([8, 8, 4])), recipe({ scheme: "static", calibration: { dataset: "0".repeat(24) } }), {})).toThrow(
      /scheme 'static' needs opset >= 10 \(QuantizeLinear\); the model has 9 and cannot be lifted: lifting from opset 9: Dropout node 'dropout': Dropout's mask output changed type at opset 10/,
    );
  });
});

describe("quantizeByRecipe, scheme dynamic", () => {
  it("uses DynamicQuantizeLinear + MatMulInteger for MatMul and Gemm and matches fp32 within 3%", async () => {
    const original = buildMlp([64, 128, 128, 10]);
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "dynamic" }));
    validateModel(r.model);
    const ops = summarizeModel(r.model).ops;
    expect(ops).toMatchObject({ DynamicQuantizeLinear: 3, MatMulInteger: 3 });
    expect(ops.MatMul).toBeUndefined();
    expect(ops.Gemm).toBeUndefined();
    const bytes = encodeModel(r.model);
    expect(bytes.byteLength).toBeLessThan(original.byteLength / 3);
    for (const [batch, seed] of [[1, 21], [6, 22]] as const) expect(await relativeError(original, bytes, [batch, 64], seed)).toBeLessThan(0.03);
  });

  it("uses ConvInteger for convolutions and matches fp32 within 3%", async () => {
    const original = buildCnn();
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "dynamic" }));
    expect(summarizeModel(r.model).ops).toMatchObject({ ConvInteger: 2, MatMulInteger: 1 });
    expect(await relativeError(original, encodeModel(r.model), [3, 1, 12, 12], 23)).toBeLessThan(0.03);
  });

  it("lifts a model below opset 11 to 13 when no node's meaning changes, and matches fp32 within 3%", async () => {
    const original = buildMlp([8, 8, 4], 1, 10);
    const r = quantizeByRecipe(decodeModel(original), recipe({ scheme: "dynamic" }));
    expect(r.model.opsetImport.find((o) => o.domain === "")?.version).toBe(13n);
    expect(summarizeModel(r.model).ops).toMatchObject({ MatMulInteger: 2 });
    expect(await relativeError(original, encodeModel(r.model), [3, 8], 24)).toBeLessThan(0.03);
  });

  it("refuses a model below opset 11 that cannot be lifted, naming why", () => {
    expect(() => quantizeByRecipe(decodeModel(buildUnliftableMlp([8, 8, 4])), recipe({ scheme: "dynamic" }))).toThrow(
      /scheme 'dynamic' needs opset >= 11 \(DynamicQuantizeLinear\); the model has 9 and cannot be lifted: lifting from opset 9: Dropout node 'dropout': Dropout's mask output changed type at opset 10/,
    );
  });
});

describe("quantizeByRecipe, exclusions and overrides", () => {
  it("leaves excluded layers (by name or op type) and 32-bit overrides float", async () => {
    const model = decodeModel(buildMlp([16, 32, 32, 4]));
    const byName = quantizeByRecipe(model, recipe({ exclude: ["head/Gemm"] }));
    expect(byName.tensors.map((t) => t.name).sort()).toEqual(["fc0.weight", "fc1.weight"]);
    const byOp = quantizeByRecipe(model, recipe({ exclude: ["MatMul"] }));
    expect(byOp.tensors.map((t) => t.name)).toEqual(["head.weight"]);
    const mixed = quantizeByRecipe(model, recipe({ overrides: { "fc0/MatMul": 32 } }));
    expect(mixed.tensors.map((t) => t.name).sort()).toEqual(["fc1.weight", "head.weight"]);
    expect(mixed.model.graph!.initializer.some((t) => t.name === "fc0.weight")).toBe(true);
  });

  it("rejects overrides and exclusions that name nothing in the model", () => {
    const model = decodeModel(buildMlp([16, 32, 4]));
    expect(() => quantizeByRecipe(model, recipe({ overrides: { nope: 32 } }))).toThrow(RecipeMismatchError);
    expect(() => quantizeByRecipe(model, recipe({ exclude: ["Softmax"] }))).toThrow(/names no layer/);
  });

  it("canonicalises exclusions so that order and duplicates do not change the recipe", () => {
    expect(recipe({ exclude: ["b", "a", "b"] }).exclude).toEqual(["a", "b"]);
  });

  it("validates static recipes: calibration required, bits in overrides checked", () => {
    expect(RecipeSchema.safeParse({ quantize: { bits: 8, scheme: "static" } }).success).toBe(false);
    expect(RecipeSchema.safeParse({ quantize: { bits: 8, calibration: { dataset: "0".repeat(24) } } }).success).toBe(false);
    expect(RecipeSchema.safeParse({ quantize: { bits: 8, overrides: { x: 3 } } }).success).toBe(false);
    const p = RecipeSchema.parse({ quantize: { bits: 8, scheme: "static", calibration: { dataset: "0".repeat(24), method: "percentile" } } });
    expect(calibrationOf(p.quantize!)).toEqual({ dataset: "0".repeat(24), method: "percentile", percentile: 99.999, samples: 256 });
  });
});

void ort;

describe("compressModel: no pretend variants", () => {
  const q = (quantize: Record<string, unknown>) => RecipeSchema.parse({ quantize });

  it("throws NothingToCompressError listing every layer the recipe kept float, and why", () => {
    let error: unknown;
    try {
      compressModel(mlpModel([8, 16, 4]), q({ bits: 8, exclude: ["fc0/MatMul"], overrides: { "head/Gemm": 32 } }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NothingToCompressError);
    expect((error as NothingToCompressError).candidates).toEqual([
        { name: "fc0.weight", node: "fc0/MatMul", reason: "excluded by the recipe" },
        { name: "head.weight", node: "head/Gemm", reason: "kept float by the recipe (bits 32)" },
        { name: "fc0.bias", node: "fc0/Add", reason: "read by Add node 'fc0/Add': no weight slot of an op compression covers" },
        { name: "head.bias", node: "head/Gemm", reason: "read by Gemm node 'head/Gemm': no weight slot of an op compression covers" },
      ]);
  });

  it("throws for a model whose constants no covered op reads as a weight", () => {
    const model = makeModel(
      makeGraph([makeNode("Add", ["x", "b"], ["y"], "shift")], "g", [makeValueInfo("x", DT.FLOAT, [64])], [makeValueInfo("y", DT.FLOAT, [64])], [
        makeTensor("b", DT.FLOAT, [64], new Float32Array(64)),
      ]),
    );
    expect(() => compressModel(model, q({ bits: 8 }))).toThrow(/changes no weight.*b \(shift\): read by Add node 'shift'/);
  });

  it("throws when the quantized file would not be smaller than the original (a 2x2 weight's scales outweigh it)", () => {
    const model = makeModel(
      makeGraph([makeNode("MatMul", ["x", "W"], ["y"], "tiny")], "g", [makeValueInfo("x", DT.FLOAT, [1, 2])], [makeValueInfo("y", DT.FLOAT, [1, 2])], [
        makeTensor("W", DT.FLOAT, [2, 2], Float32Array.of(1, 2, 3, 4)),
      ]),
    );
    expect(() => compressModel(model, q({ bits: 8 }))).toThrow(/the variant would take \d+ bytes, the original \d+/);
  });

  it("reports large float constants left, but never the scales quantization wrote (a 5000-channel weight's 5000 scales)", () => {
    const model = makeModel(
      makeGraph(
        [makeNode("MatMul", ["x", "W"], ["h"], "proj"), makeNode("Add", ["h", "b"], ["y"], "shift")],
        "g",
        [makeValueInfo("x", DT.FLOAT, [1, 16])],
        [makeValueInfo("y", DT.FLOAT, [1, 5000])],
        [makeTensor("W", DT.FLOAT, [16, 5000], Float32Array.from({ length: 16 * 5000 }, (_, i) => Math.sin(i))), makeTensor("b", DT.FLOAT, [5000], new Float32Array(5000).fill(0.5))],
      ),
    );
    for (const quantize of [{ bits: 8 }, { bits: 4 }, { bits: 8, scheme: "dynamic" }]) {
      const out = compressModel(model, q(quantize));
      expect(out.tensors.map((t) => t.name)).toEqual(["W"]);
      expect(out.skipped).toEqual([{ name: "b", node: "shift", reason: "read by Add node 'shift': no weight slot of an op compression covers" }]);
    }
  });

  it("lists the layers a partial recipe left in `skipped`", () => {
    const out = compressModel(mlpModel([64, 64, 4]), q({ bits: 8, exclude: ["head/Gemm"] }));
    expect(out.tensors.map((t) => t.name)).toEqual(["fc0.weight"]);
    expect(out.skipped).toEqual([{ name: "head.weight", node: "head/Gemm", reason: "excluded by the recipe" }]);
  });
});
