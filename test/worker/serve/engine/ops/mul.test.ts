// Mul of constants: int8 levels cast to float times a scale per channel (weight-only int8 before opset 13) fold into
// a quantized weight, which the consuming MatMul packs for the int8 kernel; any other constant product folds to
// floats. Against onnxruntime-node at batch 1 and 3 (the int8 kernel quantizes activations on the fly: 3e-2).
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";
import { rng } from "@test/support/models";

const K = 64;
const N = 24;

/** x[B, K] -> MatMul(x, Cast(q) * s) -> y: int8 levels q [K, N] and a float scale of dims `scaleDims`. */
function castMul(scaleDims: number[], opset = 11): Uint8Array {
  const next = rng(scaleDims.length * 31 + scaleDims.reduce((a, b) => a + b, 0));
  const q = Int8Array.from({ length: K * N }, () => Math.round(next() * 254 - 127));
  const count = scaleDims.reduce((a, b) => a * b, 1);
  const s = Float32Array.from({ length: count }, () => 0.001 + next() * 0.01);
  const graph = makeGraph(
    [makeNode("Cast", ["q"], ["qf"], "cast", { to: DT.FLOAT }), makeNode("Mul", ["qf", "s"], ["w"], "rescale"), makeNode("MatMul", ["x", "w"], ["y"], "fc")],
    "cast_mul",
    [makeValueInfo("x", DT.FLOAT, ["batch", K])],
    [makeValueInfo("y", DT.FLOAT, ["batch", N])],
    [makeTensor("q", DT.INT8, [K, N], q), makeTensor("s", DT.FLOAT, scaleDims, s)],
  );
  return encodeModel(makeModel(graph, { "": opset }));
}

async function served(bytes: Uint8Array, batch: number) {
  const next = rng(batch);
  const feeds = { x: { dims: [batch, K], data: Float32Array.from({ length: batch * K }, () => next() * 4 - 2) } };
  const { session, outputs } = await runKernels(bytes, feeds);
  const ref = await runReference(bytes, feeds);
  return { kernel: session.kernels.fc, diff: maxRelDiff(outputs.y!.data, ref.y!.data) };
}

describe("Mul of int8 levels and their scales", () => {
  for (const batch of [1, 3]) {
    it(`takes a scale per output channel ([N] or [1, N]) or one scale as int8 levels on the int8 kernel, batch ${batch}`, async () => {
      for (const dims of [[N], [1, N], [1]]) {
        const r = await served(castMul(dims), batch);
        expect(r.kernel, `scale dims ${dims}`).toBe("qs8");
        expect(r.diff, `scale dims ${dims}`).toBeLessThan(3e-2);
      }
    });

    it(`folds a scale per input row or per element to float weights, exactly as onnxruntime, batch ${batch}`, async () => {
      // A scale per input (K) is not one per output channel, and one per element is no per-axis scale at all.
      for (const dims of [[K, 1], [K, N]]) {
        const r = await served(castMul(dims), batch);
        expect(r.kernel, `scale dims ${dims}`).toBe("f32");
        expect(r.diff, `scale dims ${dims}`).toBeLessThan(1e-5);
      }
    });
  }
});
