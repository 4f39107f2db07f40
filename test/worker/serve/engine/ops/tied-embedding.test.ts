// A real exporter's graph through this family's ops: the zoo's tied_embedding (torch.onnx without constant folding:
// Gather of an embedding, LayerNorm spelled out as ReduceMean/Sub/Pow/Sqrt/Div, GELU as Erf) on the kernel engine
// against onnxruntime-node, with int64 token ids at batch 1 and 3.
import { describe, expect, it } from "vitest";
import * as ortNode from "onnxruntime-node";
import { decodeModel } from "@worker/onnx/codec";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { maxRelDiff } from "@test/support/engine";
import { rng } from "@test/support/models";
import { zooModel } from "@test/support/zoo";

describe("tied_embedding (zoo) on the kernel engine", () => {
  for (const batch of [1, 3]) {
    it(`matches onnxruntime-node within 1e-5 relative at batch ${batch}, sequence 11`, async () => {
      const model = await zooModel("tied_embedding");
      const [lo, hi] = model.signature.inputs[0]!.range ?? [0, 0];
      const next = rng(batch * 31 + 7);
      const dims = [batch, 11];
      const ids = BigInt64Array.from({ length: batch * 11 }, () => BigInt(lo + Math.floor(next() * (hi - lo + 1))));
      const loaded = createKernelSession(decodeModel(model.bytes), plainKernelModule);
      expect(loaded.reason).toBeNull();
      const ours = await loaded.session!.run({ ids: { type: "int64", dims, data: ids } });
      const session = await ortNode.InferenceSession.create(model.bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
      const ref = await session.run({ ids: new ortNode.Tensor("int64", ids, dims) });
      await session.release();
      const out = model.signature.outputs[0]!.name;
      expect(ours[out]!.dims).toEqual([...ref[out]!.dims]);
      expect(maxRelDiff(ours[out]!.data as Float32Array, ref[out]!.data as Float32Array)).toBeLessThan(1e-5);
    });
  }
});
