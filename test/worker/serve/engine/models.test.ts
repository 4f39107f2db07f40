// Whole models on the kernel engine against onnxruntime-node on the same graph: the fp32 originals and their
// int8 variants (made by the project's quantizer), at batch 1 and batch > 1.
import { describe, expect, it } from "vitest";
import { quantizeModel } from "@worker/compress/quantize";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { buildCnn, buildMlp, randomInput } from "@test/support/models";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";

const mlp = () => buildMlp([64, 96, 50, 10], 4);
const cnn = () => buildCnn(5);

function int8(bytes: Uint8Array): Uint8Array {
  return encodeModel(quantizeModel(decodeModel(bytes), { bits: 8 }).model);
}

const feedsFor = (shape: number[], batch: number, seed: number) => {
  const dims = [batch, ...shape];
  const n = dims.reduce((a, b) => a * b, 1);
  return { input: { dims, data: Float32Array.from(randomInput(n, seed)) } };
};

describe("kernel engine on whole models", () => {
  for (const batch of [1, 3, 32]) {
    it(`runs the fp32 MLP like onnxruntime-node within 1e-5 relative at batch ${batch}`, async () => {
      const feeds = feedsFor([64], batch, batch);
      const { session, outputs } = await runKernels(mlp(), feeds);
      const ref = await runReference(mlp(), feeds);
      expect(outputs.logits!.dims).toEqual(ref.logits!.dims);
      expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(1e-5);
      expect(Object.values(session.kernels)).toEqual(["f32", "f32", "f32"]);
    });

    it(`runs the fp32 CNN like onnxruntime-node within 1e-5 relative at batch ${batch}`, async () => {
      const feeds = feedsFor([1, 12, 12], batch, batch + 10);
      const { outputs } = await runKernels(cnn(), feeds);
      const ref = await runReference(cnn(), feeds);
      expect(outputs.logits!.dims).toEqual(ref.logits!.dims);
      expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(1e-5);
    });

    // The engine also quantizes activations per row to int8, which the weight-only graph does not: a few percent.
    it(`runs the int8 MLP variant with int8 kernels within 3e-2 relative of onnxruntime-node at batch ${batch}`, async () => {
      const feeds = feedsFor([64], batch, batch + 20);
      const bytes = int8(mlp());
      const { session, outputs } = await runKernels(bytes, feeds);
      const ref = await runReference(bytes, feeds);
      expect(Object.values(session.kernels)).toEqual(["qs8", "qs8", "qs8"]);
      expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(3e-2);
    });

    it(`runs the int8 CNN variant within 3e-2 relative of onnxruntime-node at batch ${batch}`, async () => {
      const feeds = feedsFor([1, 12, 12], batch, batch + 30);
      const bytes = int8(cnn());
      const { session, outputs } = await runKernels(bytes, feeds);
      const ref = await runReference(bytes, feeds);
      // The first Conv (1 channel, 3x3: 9 inputs) runs on fp32 below SMALL_QUANTIZED_K inputs, both read their patches
      // as planes: into the fp32 pointwise kernel, and into the int8 one.
      expect(Object.values(session.kernels)).toEqual(["pointwise", "qs8-pointwise", "qs8"]);
      expect(maxRelDiff(outputs.logits!.data, ref.logits!.data)).toBeLessThan(3e-2);
    });
  }
});
