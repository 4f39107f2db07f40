// A loaded session holds its weights once, packed in kernel memory: the JS values a load decodes are released as soon
// as every node reading them is planned for good, and kept only where a node plans again for a new input shape.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { loadKernels, maxRelDiff, runReference } from "@test/support/engine";
import { inputMaker } from "@test/support/op-graphs";

const { rand } = inputMaker(20261203);

/** x [B, 64] -> MatMul [64, 96] + bias -> Relu -> MatMul [96, 10]: a float MLP to compress. */
function mlp(): Uint8Array {
  const graph = makeGraph(
    [makeNode("MatMul", ["x", "w1"], ["h"], "fc1"), makeNode("Add", ["h", "b1"], ["hb"], "bias1"), makeNode("Relu", ["hb"], ["a"], "relu"), makeNode("MatMul", ["a", "w2"], ["out"], "fc2")],
    "mlp",
    [makeValueInfo("x", DT.FLOAT, ["batch", 64])],
    [makeValueInfo("out", DT.FLOAT, ["batch", 10])],
    [makeTensor("w1", DT.FLOAT, [64, 96], rand(64 * 96)), makeTensor("b1", DT.FLOAT, [96], rand(96)), makeTensor("w2", DT.FLOAT, [96, 10], rand(960))],
  );
  return encodeModel(makeModel(graph));
}

/** Tolerance: 1e-5 on float weights; 3e-2 on integer kernels, which quantize activations per row (docs/kernels.md). */
async function matchesReference(bytes: Uint8Array, session: ReturnType<typeof loadKernels>, batches: number[], width: number, tolerance = 1e-5) {
  for (const batch of batches) {
    const x = { dims: [batch, width], data: rand(batch * width) };
    const got = await session.run({ x: { type: "float32", ...x } });
    const ref = await runReference(bytes, { x });
    expect(maxRelDiff(got.out!.data as Float32Array, ref.out!.data)).toBeLessThan(tolerance);
  }
}

describe("a kernel session's weights after load", () => {
  for (const bits of [32, 8, 4] as const) {
    it(`${bits === 32 ? "fp32" : `int${bits}`}: keeps no weight values in JS, and every batch size still runs as onnxruntime does`, async () => {
      const original = mlp();
      const bytes = bits === 32 ? original : compressModel(decodeModel(original), RecipeSchema.parse({ quantize: { bits } }), undefined, original.byteLength).bytes;
      const session = loadKernels(bytes);
      expect(session.heldBytes).toBe(0);
      expect(session.residentBytes).toBeGreaterThanOrEqual(session.weightBytes);
      await matchesReference(bytes, session, [1, 5, 2, 5], 64, bits === 32 ? 1e-5 : 3e-2);
      expect(session.heldBytes).toBe(0);
    });
  }

  it("keeps the constant that a node plans from again for each input shape, counted in its resident bytes", async () => {
    // Expand(c, Shape(x)) folds to a constant per input shape: c must outlive the load.
    const c = makeTensor("c", DT.FLOAT, [1, 6], rand(6));
    const graph = makeGraph(
      [makeNode("Shape", ["x"], ["s"], "shape"), makeNode("Expand", ["c", "s"], ["e"], "expand"), makeNode("Add", ["x", "e"], ["out"], "add")],
      "expand",
      [makeValueInfo("x", DT.FLOAT, ["batch", 6])],
      [makeValueInfo("out", DT.FLOAT, ["batch", 6])],
      [c],
    );
    const bytes = encodeModel(makeModel(graph));
    const session = loadKernels(bytes);
    expect(session.heldBytes).toBeGreaterThanOrEqual(6 * 4);
    expect(session.residentBytes).toBeGreaterThanOrEqual(session.weightBytes + session.heldBytes);
    await matchesReference(bytes, session, [1, 3, 7, 3], 6);
  });
});
