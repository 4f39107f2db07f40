// int8/int4 variants under the other granularities and zero points, on the kernel engine against onnxruntime-node
// on the same variant graph, and the kernel each layer lands on. Batch 1 and 4.
import { describe, expect, it } from "vitest";
import { quantizeModel, type QuantizeOptions } from "@worker/compress/quantize";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { buildCnn, buildMlp, randomInput } from "@test/support/models";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";

const mlp = () => buildMlp([64, 96, 50, 10], 4);
const cnn = () => buildCnn(5);
const variant = (bytes: Uint8Array, options: QuantizeOptions) => encodeModel(quantizeModel(decodeModel(bytes), options).model);

const feeds = (shape: number[], batch: number, seed: number) => {
  const dims = [batch, ...shape];
  return { input: { dims, data: Float32Array.from(randomInput(dims.reduce((a, b) => a * b, 1), seed)) } };
};

// Integer kernels quantize activations to int8 on the fly (the graph dequantizes weights only): a few percent.
const INTEGER = 3e-2;
// Float kernels compute the graph's own dequantized weights.
const FLOAT = 1e-5;

const cases: { name: string; bytes: () => Uint8Array; shape: number[]; kernels: string[]; tolerance: number }[] = [
  { name: "int8 per-tensor MLP", bytes: () => variant(mlp(), { bits: 8, granularity: "per-tensor" }), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: INTEGER },
  // The CNN's first Conv (1 channel, 3x3: 9 inputs) runs on fp32 below SMALL_QUANTIZED_K inputs.
  { name: "int8 per-tensor CNN", bytes: () => variant(cnn(), { bits: 8, granularity: "per-tensor" }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: INTEGER },
  { name: "uint8 per-channel MLP (zero points)", bytes: () => variant(mlp(), { bits: 8, symmetric: false }), shape: [64], kernels: ["f32", "f32", "f32"], tolerance: FLOAT },
  { name: "int8 MLP in blocks of 16", bytes: () => variant(mlp(), { bits: 8, granularity: { block: 16 } }), shape: [64], kernels: ["f32", "f32", "f32"], tolerance: FLOAT },
  // uint4 levels less their zero points span 16 consecutive integers in -15..15: the int4 kernel stores each block
  // offset so that they fit its nibbles, and adds the offset's share back.
  { name: "uint4 MLP in blocks of 32 (zero points)", bytes: () => variant(mlp(), { bits: 4, block: 32, symmetric: false }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: INTEGER },
  { name: "uint4 MLP per channel (zero points)", bytes: () => variant(mlp(), { bits: 4, block: 1 << 30, symmetric: false }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: INTEGER },
  { name: "int4 MLP per channel", bytes: () => variant(mlp(), { bits: 4, block: 1 << 30 }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: INTEGER },
];

describe("granularity and zero-point variants on the kernel engine", () => {
  for (const c of cases) {
    for (const batch of [1, 4]) {
      it(`runs the ${c.name} on ${c.kernels.join("/")} within ${c.tolerance} of onnxruntime-node at batch ${batch}`, async () => {
        const bytes = c.bytes();
        const f = feeds(c.shape, batch, batch * 5 + 2);
        const { session, outputs } = await runKernels(bytes, f);
        const ref = await runReference(bytes, f);
        expect(Object.values(session.kernels)).toEqual(c.kernels);
        expect(outputs.logits!.dims).toEqual(ref.logits!.dims);
        expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(c.tolerance);
      });
    }
  }
});
