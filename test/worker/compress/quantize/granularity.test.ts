// Weight-only int8/int4 under every granularity and zero-point choice: the stored form (types, scale shapes, ops,
// opset) and outputs in onnxruntime-node against the fp32 original.
import { describe, expect, it } from "vitest";
import { quantizeModel, type QuantizeOptions } from "@worker/compress/quantize";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { tensorDims } from "@worker/onnx/tensor";
import { defaultOpset, summarizeModel, validateModel } from "@worker/onnx/validate";
import { buildCnn, buildMlp, buildUnliftableMlp, randomInput } from "@test/support/models";
import { compareOutputs, floatTensor, runReference } from "@test/support/ort-node";

async function maxDiffRelative(original: Uint8Array, quantized: Uint8Array, dims: number[], seed: number) {
  const input = floatTensor(randomInput(dims.reduce((a, b) => a * b, 1), seed), dims);
  const ref = (await runReference(original, { input })).logits!.data as Float32Array;
  const got = (await runReference(quantized, { input })).logits!.data as Float32Array;
  const { maxAbsDiff, maxAbsRef } = compareOutputs(got, ref);
  return maxAbsDiff / maxAbsRef;
}

const initializer = (bytes: Uint8Array, name: string) => decodeModel(bytes).graph!.initializer.find((t) => t.name === name)!;

describe("quantizeModel granularities (int8 and int4 weight-only)", () => {
  const mlp = buildMlp([64, 128, 96, 10], 7);
  const cnn = buildCnn(8);
  // Bound on max |output diff| / max |fp32 output| on this random-weight MLP: int8 ~0.5%; int4 ~17% (measured 16.8%
  // symmetric, 17.0% with zero points), so zero points must do as well as the symmetric form within the same bound.
  const cases: { name: string; options: QuantizeOptions; weight: { dtype: number; scaleDims: number[] }; tolerance: number; opset: number }[] = [
    { name: "int8 per tensor", options: { bits: 8, granularity: "per-tensor" }, weight: { dtype: DT.INT8, scaleDims: [] }, tolerance: 0.03, opset: 13 },
    { name: "uint8 per channel with zero points", options: { bits: 8, symmetric: false }, weight: { dtype: DT.UINT8, scaleDims: [128] }, tolerance: 0.03, opset: 13 },
    { name: "uint8 per tensor with a zero point", options: { bits: 8, granularity: "per-tensor", symmetric: false }, weight: { dtype: DT.UINT8, scaleDims: [] }, tolerance: 0.03, opset: 13 },
    { name: "int8 blocks of 16 (opset 21)", options: { bits: 8, granularity: { block: 16 } }, weight: { dtype: DT.INT8, scaleDims: [4, 128] }, tolerance: 0.03, opset: 21 },
    { name: "uint4 blocks of 32 with zero points", options: { bits: 4, block: 32, symmetric: false }, weight: { dtype: DT.UINT4, scaleDims: [2, 128] }, tolerance: 0.22, opset: 21 },
    { name: "int4 blocks of 32", options: { bits: 4, block: 32 }, weight: { dtype: DT.INT4, scaleDims: [2, 128] }, tolerance: 0.22, opset: 21 },
  ];
  for (const c of cases) {
    it(`stores ${c.name} and stays within ${c.tolerance * 100}% of the fp32 MLP in onnxruntime-node`, async () => {
      const result = quantizeModel(decodeModel(mlp), c.options);
      validateModel(result.model);
      expect(defaultOpset(result.model)).toBe(c.opset);
      const bytes = encodeModel(result.model);
      const q = decodeModel(bytes).graph!.initializer.find((t) => t.name.startsWith("fc0.weight_") && t.dataType !== DT.FLOAT)!;
      expect(q.dataType).toBe(c.weight.dtype);
      expect(tensorDims(initializer(bytes, "fc0.weight_scale"))).toEqual(c.weight.scaleDims);
      expect(result.tensors).toHaveLength(3);
      for (const [batch, seed] of [[1, 3], [4, 4]] as const) expect(await maxDiffRelative(mlp, bytes, [batch, 64], seed)).toBeLessThan(c.tolerance);
    });
  }

  it("gives convolutions one scale per output channel when blocks are asked", async () => {
    const result = quantizeModel(decodeModel(cnn), { bits: 8, granularity: { block: 32 } });
    const bytes = encodeModel(result.model);
    expect(tensorDims(initializer(bytes, "conv2.weight_scale"))).toEqual([16]);
    expect(await maxDiffRelative(cnn, bytes, [2, 1, 12, 12], 5)).toBeLessThan(0.03);
  });

  it("uses Cast, Sub and Mul for per-channel zero points before opset 13, a per-tensor DequantizeLinear from 10, and both run", async () => {
    const old = buildMlp([32, 48, 10], 9, 11);
    const perChannel = quantizeModel(decodeModel(old), { bits: 8, symmetric: false });
    expect(defaultOpset(perChannel.model)).toBe(11);
    expect(summarizeModel(perChannel.model).ops).toMatchObject({ Cast: 2, Sub: 2 });
    expect(summarizeModel(perChannel.model).ops.DequantizeLinear).toBeUndefined();
    const perTensor = quantizeModel(decodeModel(old), { bits: 8, granularity: "per-tensor", symmetric: false });
    expect(summarizeModel(perTensor.model).ops).toMatchObject({ DequantizeLinear: 2 });
    for (const r of [perChannel, perTensor]) expect(await maxDiffRelative(old, encodeModel(r.model), [3, 32], 6)).toBeLessThan(0.03);
  });

  it("leaves weights float, with the reason, when blocks need an opset the model cannot be lifted to", () => {
    const result = quantizeModel(decodeModel(buildUnliftableMlp([32, 48, 10], 9)), { bits: 8, granularity: { block: 16 } });
    expect(result.tensors).toHaveLength(0);
    expect(result.skipped[0]!.reason).toMatch(/opset 21/);
  });
});
