// MatMul(A, B): a constant B [K, N] becomes a packed linear layer (with the following bias/BN/activation fused);
// two run-time operands of any rank (numpy batch broadcasting) go through the fp32 GEMM with B packed per run.
import { OPERATORS } from "../../../onnx/operators";
import { planLinear } from "../linear";
import type { Op } from "../op";
import { broadcastDims } from "../shape";
import { sizeOf, type Activation, type RunState } from "../values";

export const matmul: Op = {
  plan(ctx) {
    const a = ctx.input(0);
    const w = ctx.constant(OPERATORS.MatMul.weight);
    if (!w) return runtimeMatmul(ctx);
    // A batched constant [..., K, N] (or a vector [K]) is multiplied as a run-time operand placed in memory once.
    const layout = w.dims.length === 2 ? OPERATORS.MatMul.gemm(ctx.node, w.dims) : null;
    if (!layout) return runtimeMatmul(ctx);
    const { K, N } = layout;
    const { linear, output } = planLinear(ctx, w, layout);
    return {
      kind: "step",
      outputs: [output],
      run(run) {
        const x = a(run);
        if (x.dims.length < 1 || x.dims[x.dims.length - 1] !== K) throw new RangeError(`MatMul input dims [${x.dims}] do not end in K=${K}`);
        const rows = x.dims.slice(0, -1).reduce((p, d) => p * d, 1); // [K] is one row and gives [N]
        const y = run.alloc([...x.dims.slice(0, -1), N]);
        linear.run(run.kx, rows, x.ptr, K, y.ptr, N);
        return [y];
      },
    };
  },
};

/**
 * MatMul's operands as numpy sees them: rank 1 promoted ([K] -> [1, K] on the left, [K, 1] on the right, the added
 * dim dropped from the output), leading batch dims broadcast. Each batch matrix's offset into A and into B.
 */
export function batchedMatmul(aDims: readonly number[], bDims: readonly number[]) {
  if (aDims.length === 0 || bDims.length === 0) throw new RangeError("MatMul of a scalar");
  const ad = aDims.length === 1 ? [1, aDims[0]!] : [...aDims];
  const bd = bDims.length === 1 ? [bDims[0]!, 1] : [...bDims];
  const [M, K] = ad.slice(-2) as [number, number];
  const [K2, N] = bd.slice(-2) as [number, number];
  if (K !== K2) throw new RangeError(`MatMul of [${aDims}] x [${bDims}]: inner dims differ`);
  const aBatch = ad.slice(0, -2);
  const bBatch = bd.slice(0, -2);
  const batch = broadcastDims(aBatch, bBatch);
  const rank = batch.length;
  const stridesIn = (dims: number[], matrix: number) => {
    const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
    const s = new Array<number>(rank).fill(0);
    let acc = matrix;
    for (let d = rank - 1; d >= 0; d--) {
      s[d] = padded[d] === 1 ? 0 : acc;
      acc *= padded[d]!;
    }
    return s;
  };
  const as = stridesIn(aBatch, M * K);
  const bs = stridesIn(bBatch, K * N);
  const count = sizeOf(batch);
  const aOffset = new Array<number>(count);
  const bOffset = new Array<number>(count);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < count; i++) {
    let ao = 0;
    let bo = 0;
    for (let d = 0; d < rank; d++) {
      ao += idx[d]! * as[d]!;
      bo += idx[d]! * bs[d]!;
    }
    aOffset[i] = ao;
    bOffset[i] = bo;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  const outDims = [...batch, ...(aDims.length === 1 ? [] : [M]), ...(bDims.length === 1 ? [] : [N])];
  return { M, K, N, aOffset, bOffset, outDims, shared: sizeOf(bBatch) === 1 };
}

/** B[K, N] (row-major at `off` in `src`) into the fp32 GEMM's panels of 8 columns at `dst` (zero past N). */
function packPanels(src: Float32Array, off: number, K: number, N: number, dst: Float32Array, at: number): void {
  for (let n0 = 0; n0 < N; n0 += 8) {
    const cols = Math.min(8, N - n0);
    const panel = at + (n0 >> 3) * K * 8;
    for (let k = 0; k < K; k++) {
      const s = off + k * N + n0;
      const d = panel + k * 8;
      if (cols === 8) {
        dst[d] = src[s]!; dst[d + 1] = src[s + 1]!; dst[d + 2] = src[s + 2]!; dst[d + 3] = src[s + 3]!;
        dst[d + 4] = src[s + 4]!; dst[d + 5] = src[s + 5]!; dst[d + 6] = src[s + 6]!; dst[d + 7] = src[s + 7]!;
      } else {
        for (let j = 0; j < cols; j++) dst[d + j] = src[s + j]!;
        for (let j = cols; j < 8; j++) dst[d + j] = 0;
      }
    }
  }
}

/**
 * Two run-time operands (attention's Q K^T and P V): each batch matrix of B is packed into panels in kernel memory
 * (one scratch, reused batch after batch) and multiplied by the fp32 GEMM. When B has no batch of its own, A's
 * batches are one tall GEMM on one packing.
 */
function runtimeMatmul(ctx: Parameters<Op["plan"]>[0]): ReturnType<Op["plan"]> {
  const a = ctx.input(0);
  const b = ctx.input(1);
  ctx.noteKernel("f32");
  return { kind: "step", run: (run) => [matmulActivations(run, a(run), b(run))] };
}

/** x times w, two run-time activations, with numpy batch broadcasting (also Einsum's contraction). */
export function matmulActivations(run: RunState, x: Activation, w: Activation): Activation {
  const { M, K, N, aOffset, bOffset, outDims, shared } = batchedMatmul(x.dims, w.dims);
  const y = run.alloc(outDims);
  const count = aOffset.length;
  const bp = run.kx.alloc(Math.ceil(N / 8) * K * 8 * 4);
  const mem = run.kx.f32(0, run.kx.k.memory.buffer.byteLength >> 2); // after the last allocation: stays attached
  if (shared && aOffset.every((o, i) => o === i * M * K)) {
    // B has no batch of its own and A's batches lie in order: one GEMM over all their rows.
    packPanels(mem, w.ptr >> 2, K, N, mem, bp >> 2);
    run.kx.k.f32_gemm_wasmsimd_4x8(count * M, K, N, x.ptr, K, bp, 0, y.ptr, N, -Infinity, Infinity);
    return y;
  }
  let packed = -1; // B's offset now in the panels: consecutive batches on the same B matrix pack it once
  for (let i = 0; i < count; i++) {
    if (bOffset[i] !== packed) {
      packPanels(mem, (w.ptr >> 2) + bOffset[i]!, K, N, mem, bp >> 2);
      packed = bOffset[i]!;
    }
    run.kx.k.f32_gemm_wasmsimd_4x8(M, K, N, x.ptr + aOffset[i]! * 4, K, bp, 0, y.ptr + i * M * N * 4, N, -Infinity, Infinity);
  }
  return y;
}
