// Every bit-width's variant on the kernel engine against onnxruntime-node on the same variant graph, and the kernel
// each layer lands on: fp16 -> f32, int4 -> qs4 (MLP) / int8 per channel (a CNN's convolutions: the pointwise int8
// kernel over patch planes), 2-bit ternary (INT2) -> qs4 per block of 32 / qs8 per channel, 1-bit (INT2 signs at
// opset 25, float +-scale at opset 11) -> the int8 kernels, dynamic int8 (integer ops) -> the int8 kernels,
// int8 before opset 13 (Cast + Mul per channel) -> the int8 kernels, 90% zero 1x16 blocks -> bsr1x16. Batch 1 and 5.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { quantizeModel, type QuantizeOptions } from "@worker/compress/quantize";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor, readFloat32 } from "@worker/onnx/tensor";
import { buildCnn, buildMlp, randomInput } from "@test/support/models";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";

const mlp = () => buildMlp([64, 96, 50, 10], 4);
const cnn = () => buildCnn(5);
const variant = (bytes: Uint8Array, options: QuantizeOptions) => encodeModel(quantizeModel(decodeModel(bytes), options).model);

/** Zeroes the 1x16 blocks (one input row, 16 output columns) of every MatMul weight with the smallest L1 norms. */
function blockPruned(bytes: Uint8Array, fraction: number): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  g.initializer = g.initializer.map((t) => {
    if (!t.name.startsWith("fc") || !t.name.endsWith(".weight")) return t;
    const [K, N] = t.dims.map(Number) as [number, number];
    const w = readFloat32(t);
    const blocks: { k: number; n0: number; norm: number }[] = [];
    for (let k = 0; k < K; k++)
      for (let n0 = 0; n0 < N; n0 += 16) {
        let norm = 0;
        for (let n = n0; n < Math.min(N, n0 + 16); n++) norm += Math.abs(w[k * N + n]!);
        blocks.push({ k, n0, norm });
      }
    blocks.sort((a, b) => a.norm - b.norm);
    for (const b of blocks.slice(0, Math.round(blocks.length * fraction)))
      for (let n = b.n0; n < Math.min(N, b.n0 + 16); n++) w[b.k * N + n] = 0;
    return makeTensor(t.name, DT.FLOAT, [K, N], w);
  });
  return encodeModel(model);
}

/** Through the real pipeline: 95% per layer leaves COO sparse initializers in the variant bytes. */
const pruned = (bytes: Uint8Array, prune: object) => compressModel(decodeModel(bytes), RecipeSchema.parse({ prune })).bytes;

const dynamic = (bytes: Uint8Array) => compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { bits: 8, scheme: "dynamic" } })).bytes;

const feeds = (shape: number[], batch: number, seed: number) => {
  const dims = [batch, ...shape];
  return { input: { dims, data: Float32Array.from(randomInput(dims.reduce((a, b) => a * b, 1), seed)) } };
};

const cases: { name: string; bytes: () => Uint8Array; shape: number[]; kernels: string[]; tolerance: number }[] = [
  { name: "fp16 MLP", bytes: () => variant(mlp(), { bits: 16 }), shape: [64], kernels: ["f32", "f32", "f32"], tolerance: 1e-5 },
  { name: "fp16 CNN", bytes: () => variant(cnn(), { bits: 16 }), shape: [1, 12, 12], kernels: ["pointwise", "f32", "f32"], tolerance: 1e-5 },
  // int4 kernels quantize activations to int8 on the fly (the graph dequantizes weights only): a few percent.
  { name: "int4 MLP (blocks of 32)", bytes: () => variant(mlp(), { bits: 4, block: 32 }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: 3e-2 },
  // The CNN's first Conv (1 channel, 3x3: 9 inputs) runs on fp32 below SMALL_QUANTIZED_K inputs; convolutions take
  // per-channel int4 levels on the int8 kernel, the Gemm on the int4 one.
  { name: "int4 CNN (per channel)", bytes: () => variant(cnn(), { bits: 4, block: 32 }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs4"], tolerance: 3e-2 },
  // Ternary levels widened at load: the int4/int8 kernels quantize activations to int8, as for int4.
  { name: "2-bit MLP (blocks of 32)", bytes: () => variant(mlp(), { bits: 2, block: 32 }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: 3e-2 },
  { name: "2-bit MLP (per channel)", bytes: () => variant(mlp(), { bits: 2, block: 0 }), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: 3e-2 },
  { name: "2-bit CNN (Conv per channel)", bytes: () => variant(cnn(), { bits: 2, block: 32 }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: 3e-2 },
  // INT2's four levels, some groups' scales negative (the extra level on the positive side).
  { name: "2-bit MLP on INT2's grid (blocks of 32)", bytes: () => variant(mlp(), { bits: 2, block: 32, grid: "int2" }), shape: [64], kernels: ["qs4", "qs4", "qs4"], tolerance: 3e-2 },
  { name: "2-bit CNN on INT2's grid (Conv per channel)", bytes: () => variant(cnn(), { bits: 2, block: 32, grid: "int2" }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: 3e-2 },
  // +-1 levels run on the int8 kernel (exact levels; activations quantized to int8 on the fly, as for int4).
  { name: "binary MLP", bytes: () => variant(mlp(), { bits: 1 }), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: 3e-2 },
  { name: "binary MLP from opset 11 (lifted)", bytes: () => variant(buildMlp([64, 96, 50, 10], 4, 11), { bits: 1 }), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: 3e-2 },
  // Before opset 13 int8 weights are written as Cast(int8) * scale per channel (no per-axis DequantizeLinear): the
  // same levels and scales reach the int8 kernels.
  { name: "int8 MLP at opset 11 (Cast + Mul)", bytes: () => variant(buildMlp([64, 96, 50, 10], 4, 11), { bits: 8 }), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: 3e-2 },
  { name: "int8 CNN at opset 11 (Cast + Mul)", bytes: () => variant(buildCnn(5, 11), { bits: 8 }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: 3e-2 },
  { name: "binary CNN", bytes: () => variant(cnn(), { bits: 1 }), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: 3e-2 },
  // Dynamic int8 (DynamicQuantizeLinear, MatMulInteger/ConvInteger, rescale) runs as the weight-only form: the
  // engine quantizes activations per row or pixel where onnxruntime uses one uint8 grid per tensor, a few percent.
  { name: "dynamic int8 MLP", bytes: () => dynamic(mlp()), shape: [64], kernels: ["qs8", "qs8", "qs8"], tolerance: 3e-2 },
  { name: "dynamic int8 CNN", bytes: () => dynamic(cnn()), shape: [1, 12, 12], kernels: ["pointwise", "qs8-pointwise", "qs8"], tolerance: 3e-2 },
  { name: "90% block-sparse MLP", bytes: () => blockPruned(mlp(), 0.9), shape: [64], kernels: ["bsr1x16", "bsr1x16", "f32"], tolerance: 1e-5 },
  {
    name: "95% unstructured-pruned MLP stored as sparse initializers",
    bytes: () => pruned(mlp(), { sparsity: 0.95, scope: "per-layer" }),
    shape: [64],
    kernels: ["csr", "csr", "csr"],
    tolerance: 1e-5,
  },
];

describe("compressed variants on the kernel engine", () => {
  for (const c of cases) {
    for (const batch of [1, 5]) {
      it(`runs the ${c.name} on ${c.kernels.join("/")} within ${c.tolerance} of onnxruntime-node at batch ${batch}`, async () => {
        const bytes = c.bytes();
        const f = feeds(c.shape, batch, batch * 3 + 1);
        const { session, outputs } = await runKernels(bytes, f);
        const ref = await runReference(bytes, f);
        expect(Object.values(session.kernels)).toEqual(c.kernels);
        expect(outputs.logits!.dims).toEqual(ref.logits!.dims);
        expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(c.tolerance);
      });
    }
  }
});
