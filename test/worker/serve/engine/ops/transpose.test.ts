// Transpose against onnxruntime-node: every permutation of rank 2 to 4 (attention's [0, 2, 1, 3], [0, 1, 3, 2],
// [1, 0, 2] and [1, 2, 0] among them) at odd sizes with size-1 axes, batch 1 and 3, exact; and constant folding that
// keeps int64 and quantized weights in their types.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import type { TensorProto } from "onnx-buf";
import { packInt4 } from "@worker/onnx/encoding";
import type { PlanContext } from "@worker/serve/engine/op";
import { reducePermutation, transpose } from "@worker/serve/engine/ops/transpose";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";
import { compare, graphOf, inputMaker, type Attr } from "@test/support/op-graphs";

const { int, next, live } = inputMaker(20261203);

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

describe("Transpose against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`moves every axis order of rank 2, 3 and 4, batch ${batch}`, async () => {
      for (const rank of [2, 3, 4]) {
        const dims = [batch, ...Array.from({ length: rank - 1 }, () => int(2, 9))];
        const x = live("x", dims);
        for (const perm of permutations(rank)) await compare(graphOf("Transpose", [x], { perm }, rank), [x], 1e-12);
      }
    });

    it(`moves attention's heads with size-1 axes in the way, batch ${batch}`, async () => {
      const [S, H, D] = [int(1, 17), int(1, 4), int(1, 33)];
      for (const [dims, perm] of [
        [[batch, S, H, D], [0, 2, 1, 3]],
        [[batch, H, S, D], [0, 2, 1, 3]],
        [[batch, H, S, D], [0, 1, 3, 2]],
        [[S, batch * H, D], [1, 0, 2]],
        [[S, batch * H, D], [1, 2, 0]],
        [[batch, 1, S, 1, D], [4, 1, 0, 3, 2]],
      ] as [number[], number[]][]) {
        const x = live("x", dims);
        await compare(graphOf("Transpose", [x], { perm }, dims.length), [x], 1e-12);
      }
    });
  }

  it("reduces a permutation to its merged axes", () => {
    expect(reducePermutation([2, 3, 4, 5], [0, 2, 1, 3])).toEqual({ dims: [2, 3, 4, 5], perm: [0, 2, 1, 3] });
    expect(reducePermutation([2, 3, 4, 5], [0, 1, 3, 2])).toEqual({ dims: [6, 4, 5], perm: [0, 2, 1] });
    expect(reducePermutation([3, 4, 5], [1, 2, 0])).toEqual({ dims: [3, 20], perm: [1, 0] });
    expect(reducePermutation([1, 4, 1, 5], [2, 3, 0, 1])).toEqual({ dims: [4, 5], perm: [1, 0] });
    expect(reducePermutation([2, 3], [0, 1])).toEqual({ dims: [6], perm: [0] });
  });

  it("folds an int64 constant as int64", () => {
    const c = { dims: [2, 3], dtype: DT.INT64, data: BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 2n ** 40n) };
    const node = makeNode("Transpose", ["c"], ["t"], "t", { perm: [1, 0] });
    const ctx = { node, opset: 13, constant: () => c } as unknown as PlanContext;
    const planned = transpose.plan(ctx);
    expect(planned.kind === "constant" && planned.outputs[0]).toEqual({ dims: [3, 2], dtype: DT.INT64, data: BigInt64Array.of(1n, 4n, 2n, 5n, 3n, 2n ** 40n) });
  });

  it("keeps a transposed int8 per-axis and int4 blocked weight quantized for the MatMul after it (a tied embedding)", async () => {
    const [K, N] = [int(33, 70), int(3, 9)];
    const x = live("x", [2, K]);
    const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
    const tied = (q: TensorProto, s: TensorProto, dq: Attr, opset: number) => {
      const graph = makeGraph(
        [
          makeNode("DequantizeLinear", ["q", "s"], ["wt"], "dq", dq),
          makeNode("Transpose", ["wt"], ["w"], "t", { perm: [1, 0] }),
          makeNode("MatMul", ["x", "w"], ["y"], "mm"),
        ],
        "tied", [makeValueInfo("x", DT.FLOAT, [2, K])], [makeValueInfo("y", DT.FLOAT, [null, null])], [q, s],
      );
      return encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8));
    };
    const q8 = Int8Array.from({ length: N * K }, () => int(-127, 127));
    const s8 = Float32Array.from({ length: N }, () => 0.01 + next() * 0.02);
    const perAxis = tied(makeTensor("q", DT.INT8, [N, K], q8), makeTensor("s", DT.FLOAT, [N], s8), { axis: 0 }, 13);
    const blocks = Math.ceil(K / 32);
    const q4 = Int8Array.from({ length: N * K }, () => int(-7, 7));
    const s4 = Float32Array.from({ length: N * blocks }, () => 0.05 + next() * 0.05);
    const blocked = tied(makeTensor("q", DT.INT4, [N, K], packInt4(q4)), makeTensor("s", DT.FLOAT, [N, blocks], s4), { axis: 1, block_size: 32 }, 21);
    for (const [bytes, kernel] of [[perAxis, "qs8"], [blocked, "qs4"]] as const) {
      const { session, outputs } = await runKernels(bytes, feeds);
      expect(session.kernels.mm).toBe(kernel);
      const ref = await runReference(bytes, feeds);
      expect(maxRelDiff(outputs.y!.data, ref.y!.data)).toBeLessThan(3e-2);
    }
  });
});
