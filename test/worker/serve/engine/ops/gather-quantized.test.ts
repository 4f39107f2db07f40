// Gather of a quantized embedding table by run-time token ids: the table stays as its integer levels in kernel memory
// (a byte per entry, not a float copy), and the rows gathered match onnxruntime-node on the same variant.
import { describe, expect, it } from "vitest";
import * as ortNode from "onnxruntime-node";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { loadKernels, maxRelDiff } from "@test/support/engine";
import { inputMaker } from "@test/support/op-graphs";

const { rand } = inputMaker(20261204);
const VOCAB = 300;
const WIDTH = 64;

/** ids [B, S] -> Gather(table [300, 64]) -> Relu: an embedding lookup (the Relu gives the table a consumer after it). */
function embedding(): Uint8Array {
  const graph = makeGraph(
    [makeNode("Gather", ["table", "ids"], ["e"], "embed"), makeNode("Relu", ["e"], ["out"], "relu")],
    "embedding",
    [makeValueInfo("ids", DT.INT64, ["batch", "sequence"])],
    [makeValueInfo("out", DT.FLOAT, ["batch", "sequence", WIDTH])],
    [makeTensor("table", DT.FLOAT, [VOCAB, WIDTH], rand(VOCAB * WIDTH))],
  );
  return encodeModel(makeModel(graph));
}

describe("Gather of a quantized table on the kernel engine", () => {
  for (const bits of [8, 4] as const) {
    it(`int${bits}: holds the table as levels (a byte each) and gathers rows as onnxruntime-node dequantizes them`, async () => {
      const original = embedding();
      const bytes = compressModel(decodeModel(original), RecipeSchema.parse({ quantize: { bits } }), undefined, original.byteLength).bytes;
      const session = loadKernels(bytes);
      // A float copy of the table alone would be 4 bytes an entry.
      expect(session.weightBytes).toBeLessThan(VOCAB * WIDTH * 2);
      const reference = await ortNode.InferenceSession.create(bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
      for (const [batch, sequence] of [[1, 7], [3, 5]] as const) {
        const ids = BigInt64Array.from({ length: batch * sequence }, (_, i) => BigInt(((i * 7919) % (2 * VOCAB)) - VOCAB)); // negatives count from the end
        const ours = await session.run({ ids: { type: "int64", dims: [batch, sequence], data: ids } });
        const ref = await reference.run({ ids: new ortNode.Tensor("int64", ids, [batch, sequence]) });
        expect(ours.out!.dims).toEqual([batch, sequence, WIDTH]);
        expect(maxRelDiff(ours.out!.data as Float32Array, ref.out!.data as Float32Array)).toBeLessThan(1e-6);
      }
      await reference.release();
      await expect(session.run({ ids: { type: "int64", dims: [1, 1], data: BigInt64Array.of(BigInt(VOCAB)) } })).rejects.toThrow(/out of range/);
    });
  }
});
