import { describe, expect, it } from "vitest";
import { quantizeModel } from "@worker/compress/quantize";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildCnn, buildMlp, randomInput } from "@test/support/models";
import { compareOutputs, floatTensor, runReference } from "@test/support/ort-node";

/** int8 per-channel weights: outputs within 3% of the fp32 output range (measured 0.2-0.8% on these models). */
const RELATIVE_TOLERANCE = 0.03;

async function compareWithOriginal(original: Uint8Array, quantized: Uint8Array, dims: number[], seed: number) {
  const input = floatTensor(randomInput(dims.reduce((a, b) => a * b, 1), seed), dims);
  const ref = (await runReference(original, { input })).logits!.data as Float32Array;
  const got = (await runReference(quantized, { input })).logits!.data as Float32Array;
  return compareOutputs(got, ref);
}

describe("quantizeModel (int8 weight-only, per channel)", () => {
  it("rewrites every MatMul/Gemm weight into int8 + DequantizeLinear and keeps other ops", () => {
    const result = quantizeModel(decodeModel(buildMlp([32, 64, 64, 10])), { bits: 8 });
    validateModel(result.model);
    const ops = summarizeModel(result.model).ops;
    expect(ops).toEqual({ Add: 2, DequantizeLinear: 3, Gemm: 1, MatMul: 2, Relu: 2 });
    const g = result.model.graph!;
    const int8 = g.initializer.filter((t) => t.dataType === DT.INT8 && t.name.endsWith("_quantized"));
    expect(int8.map((t) => t.name).sort()).toEqual(["fc0.weight_quantized", "fc1.weight_quantized", "head.weight_quantized"]);
    expect(g.initializer.some((t) => t.name === "fc0.weight")).toBe(false);
    // Gemm with transB=1 keeps output channels on axis 0.
    expect(result.tensors.find((t) => t.name === "head.weight")).toMatchObject({ axis: 0, shape: [10, 64], bits: 8 });
    expect(result.tensors.find((t) => t.name === "fc0.weight")).toMatchObject({ axis: 1, shape: [32, 64] });
    for (const t of result.tensors) expect(t.sqnrDb).toBeGreaterThan(30);
  });

  it("matches the fp32 MLP's outputs in onnxruntime-node within tolerance, batch 1 and 5", async () => {
    const original = buildMlp([64, 128, 128, 10]);
    const quantized = encodeModel(quantizeModel(decodeModel(original), { bits: 8 }).model);
    expect(quantized.byteLength).toBeLessThan(original.byteLength / 3);
    for (const [batch, seed] of [[1, 11], [5, 12]] as const) {
      const { maxAbsDiff, maxAbsRef } = await compareWithOriginal(original, quantized, [batch, 64], seed);
      expect(maxAbsDiff).toBeLessThan(RELATIVE_TOLERANCE * maxAbsRef);
    }
  });

  it("matches the fp32 CNN's outputs in onnxruntime-node within tolerance", async () => {
    const original = buildCnn();
    const result = quantizeModel(decodeModel(original), { bits: 8 });
    expect(result.tensors.map((t) => t.name).sort()).toEqual(["conv1.weight", "conv2.weight", "fc.weight"]);
    const { maxAbsDiff, maxAbsRef } = await compareWithOriginal(original, encodeModel(result.model), [2, 1, 12, 12], 13);
    expect(maxAbsDiff).toBeLessThan(RELATIVE_TOLERANCE * maxAbsRef);
  });

  it("uses Cast and a per-channel Mul before opset 13, and the result still runs", async () => {
    const original = buildMlp([16, 32, 4], 3, 11);
    const result = quantizeModel(decodeModel(original), { bits: 8 });
    const ops = summarizeModel(result.model).ops;
    expect(ops.DequantizeLinear).toBeUndefined();
    expect(ops).toMatchObject({ Cast: 2, Mul: 2 });
    const { maxAbsDiff, maxAbsRef } = await compareWithOriginal(original, encodeModel(result.model), [3, 16], 14);
    expect(maxAbsDiff).toBeLessThan(RELATIVE_TOLERANCE * maxAbsRef);
  });

  it("is deterministic: the same model gives the same bytes", () => {
    const model = buildMlp([16, 32, 4]);
    const a = encodeModel(quantizeModel(decodeModel(model), { bits: 8 }).model);
    const b = encodeModel(quantizeModel(decodeModel(model), { bits: 8 }).model);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });
});
