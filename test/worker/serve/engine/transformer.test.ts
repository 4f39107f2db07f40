// The zoo's transformer encoder (torch.onnx: shape arithmetic, attention through Reshape/Transpose/MatMul, decomposed
// layer norm and Erf GELU) and tied embedding on the kernel engine against onnxruntime-node: token ids at batch 1 and
// 3 and odd sequence lengths within 1e-5 relative, PyTorch's own sample within 1e-4, and their int8 and int4
// weight-only variants (the tied table quantized once, read by Gather and, transposed, by the output MatMul) and
// dynamic int8 variants (integer ops on 3-D activations) within 3e-2 (the engine also quantizes activations per row).
import { describe, expect, it } from "vitest";
import * as ortNode from "onnxruntime-node";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { loadKernels, maxRelDiff } from "@test/support/engine";
import { inputMaker } from "@test/support/op-graphs";
import { zooModel } from "@test/support/zoo";

const { int } = inputMaker(20261209);

async function reference(bytes: Uint8Array, ids: BigInt64Array, dims: number[]) {
  const session = await ortNode.InferenceSession.create(bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const out = await session.run({ ids: new ortNode.Tensor("int64", ids, dims) });
  await session.release();
  const t = Object.values(out)[0]!;
  return { dims: [...t.dims], data: t.data as Float32Array };
}

async function engine(bytes: Uint8Array, ids: BigInt64Array, dims: number[]) {
  const out = await loadKernels(bytes).run({ ids: { type: "int64", dims, data: ids } });
  const t = Object.values(out)[0]!;
  return { dims: [...t.dims], data: t.data as Float32Array };
}

describe("transformer encoders of the zoo on the kernel engine", () => {
  for (const name of ["transformer", "tied_embedding"]) {
    it(`runs ${name} like onnxruntime-node at batch 1 and 3 and odd sequence lengths`, async () => {
      const model = await zooModel(name);
      const [lo, hi] = model.signature.inputs[0]!.range!;
      const session = loadKernels(model.bytes);
      for (const dims of [[1, int(3, 15)], [3, int(17, 31)], [3, 1]]) {
        const ids = BigInt64Array.from({ length: dims[0]! * dims[1]! }, () => BigInt(int(lo, hi)));
        const got = Object.values(await session.run({ ids: { type: "int64", dims, data: ids } }))[0]!;
        const want = await reference(model.bytes, ids, dims);
        expect(got.dims).toEqual(want.dims);
        expect(maxRelDiff(got.data as Float32Array, want.data)).toBeLessThan(1e-5);
      }
    });

    it(`reproduces PyTorch's sample output of ${name}`, async () => {
      const model = await zooModel(name);
      const { feeds, outputs } = await model.sample();
      const ids = feeds.ids!;
      const got = await loadKernels(model.bytes).run({ ids: { type: "int64", dims: [...ids.dims], data: ids.data as BigInt64Array } });
      for (const [out, want] of Object.entries(outputs)) expect(maxRelDiff(got[out]!.data as Float32Array, want)).toBeLessThan(1e-4);
    });

    it(`runs the int8, int4 and dynamic int8 variants of ${name} on the quantized kernels`, async () => {
      const model = await zooModel(name);
      const [lo, hi] = model.signature.inputs[0]!.range!;
      const dims = [3, int(5, 19)];
      const ids = BigInt64Array.from({ length: dims[0]! * dims[1]! }, () => BigInt(int(lo, hi)));
      const recipes = [[{ bits: 8 }, "qs8"], [{ bits: 4 }, "qs4"], [{ bits: 8, scheme: "dynamic" }, "qs8"]] as const;
      for (const [quantize, kernel] of recipes) {
        const { bytes } = compressModel(decodeModel(model.bytes), RecipeSchema.parse({ quantize }));
        expect(Object.values(loadKernels(bytes).kernels)).toContain(kernel);
        const got = await engine(bytes, ids, dims);
        expect(maxRelDiff(got.data, (await reference(bytes, ids, dims)).data)).toBeLessThan(3e-2);
      }
    });
  }
});
