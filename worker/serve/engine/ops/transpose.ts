// Transpose by `perm` (default: reversed axes). Constants fold at load keeping their type, and a quantized weight
// (a tied embedding read transposed by its output projection) stays quantized. At run time the permutation is first
// reduced (size-1 axes dropped, axes that stay neighbours merged): attention's [0, 2, 1, 3] and [1, 0, 2] then copy
// whole rows, [0, 1, 3, 2], [1, 2, 0] and 2-D transposes go through the blocked SIMD transpose kernel per matrix.
import { intsAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { normalizeAxis, stridesOf } from "../shape";
import { floatData, sizeOf, type Activation, type ConstData, type Constant, type RunState } from "../values";
import { checkPerm } from "../attributes";

/** dst = src transposed by perm, element by element (constants, and the permutations no fast path takes). */
function permute<T extends ConstData>(src: T, dims: readonly number[], perm: readonly number[], dst: T): number[] {
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = stridesOf(dims);
  const strides = perm.map((p) => inStrides[p]!);
  const rank = outDims.length;
  if (rank === 0) {
    dst.set(src as never);
    return outDims;
  }
  // The last output axis in an inner loop; the others through an odometer.
  const last = outDims[rank - 1]!;
  const step = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < dst.length; i += last) {
    let s = 0;
    for (let d = 0; d < rank - 1; d++) s += idx[d]! * strides[d]!;
    for (let j = 0; j < last; j++) (dst as Float32Array)[i + j] = (src as Float32Array)[s + j * step]!;
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < outDims[d]!) break;
      idx[d] = 0;
    }
  }
  return outDims;
}

/** The smallest equivalent transpose: size-1 axes dropped, runs of axes that stay in order merged into one. */
export function reducePermutation(dims: readonly number[], perm: readonly number[]): { dims: number[]; perm: number[] } {
  const kept = perm.filter((p) => dims[p] !== 1);
  const groups: number[][] = [];
  for (const p of kept) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1]! + 1 === p) g.push(p);
    else groups.push([p]);
  }
  const byInput = [...groups].sort((a, b) => a[0]! - b[0]!);
  return {
    dims: byInput.map((g) => g.reduce((n, p) => n * dims[p]!, 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

const like = <T extends ConstData>(data: T): T => new (data.constructor as new (n: number) => T)(data.length);

function foldConstant(c: Constant, perm: readonly number[]): Constant {
  const dims = perm.map((p) => c.dims[p]!);
  if (!c.quant) {
    const data = like(c.data);
    permute(c.data, c.dims, perm, data);
    return { dims, dtype: c.dtype, data };
  }
  const q = c.quant;
  const axis = q.scale.length === 1 ? q.axis : normalizeAxis(q.axis, c.dims.length);
  const levels = like(q.q);
  permute(q.q, c.dims, perm, levels);
  let scale = q.scale;
  if (q.blockSize > 0 && q.scale.length > 1) {
    // Blocked scales are laid out like the weight with the blocked axis shortened: they move the same way.
    const scaleDims = c.dims.map((d, i) => (i === axis ? Math.ceil(d / q.blockSize) : d));
    scale = new Float32Array(q.scale.length);
    permute(q.scale, scaleDims, perm, scale);
  }
  // Float values only when a consumer asks (the packed kernels read the levels), as DequantizeLinear does.
  let data: Float32Array | null = null;
  return {
    dims,
    dtype: c.dtype,
    quant: { ...q, q: levels, scale, axis: q.scale.length === 1 ? q.axis : perm.indexOf(axis) },
    get data() {
      if (!data) {
        data = new Float32Array(levels.length);
        permute(floatData(c), c.dims, perm, data);
      }
      return data;
    },
  };
}

export const transpose: Op = {
  movesElements: true,
  plan(ctx) {
    const permOf = (rank: number) => {
      const perm = intsAttribute(ctx.node, "perm", [...Array(rank).keys()].reverse());
      checkPerm(perm, rank);
      return perm;
    };
    const c = ctx.constant(0);
    if (c) return { kind: "constant", outputs: [foldConstant(c, permOf(c.dims.length))] };
    const x = ctx.input(0);
    return {
      kind: "step",
      run: (run) => {
        const a = x(run);
        return [transposeActivation(run, a, permOf(a.dims.length))];
      },
    };
  },
};

/**
 * A run-time activation transposed by `perm` (also what Einsum's operands and result go through). The permutation is
 * first reduced; an identity comes back as a view of the same memory.
 */
export function transposeActivation(run: RunState, a: Activation, perm: readonly number[]): Activation {
  const outDims = perm.map((p) => a.dims[p]!);
  const r = reducePermutation(a.dims, perm);
  const rank = r.perm.length;
  if (r.perm.every((p, i) => p === i)) return { dims: outDims, ptr: a.ptr }; // same order in memory
  const y = run.alloc(outDims);
  const k = run.kx.k;
  const [d0, d1, d2] = r.dims;
  if (rank === 2) {
    k.f32_transpose(d0!, d1!, a.ptr, y.ptr, d0!);
    return y;
  }
  if (rank === 3 && r.perm[0] === 0 && r.perm[1] === 2) {
    // A batch of matrices transposed.
    for (let b = 0; b < d0!; b++) k.f32_transpose(d1!, d2!, a.ptr + b * d1! * d2! * 4, y.ptr + b * d1! * d2! * 4, d1!);
    return y;
  }
  const mem = run.kx.f32(0, k.memory.buffer.byteLength >> 2);
  if (r.perm[rank - 1] === rank - 1) {
    // The last axis stays last: whole rows move, copied within memory.
    const rowLen = r.dims[rank - 1]!;
    const strides = stridesOf(r.dims);
    const outer = r.perm.slice(0, -1);
    const outerDims = outer.map((p) => r.dims[p]!);
    const idx = new Array<number>(outer.length).fill(0);
    const src = a.ptr >> 2;
    const rows = sizeOf(outerDims);
    for (let i = 0, dst = y.ptr >> 2; i < rows; i++, dst += rowLen) {
      let s = src;
      for (let d = 0; d < outer.length; d++) s += idx[d]! * strides[outer[d]!]!;
      if (rowLen >= 64) mem.copyWithin(dst, s, s + rowLen);
      else for (let j = 0; j < rowLen; j++) mem[dst + j] = mem[s + j]!; // short rows (a head's 16-64 values): no call
      for (let d = outer.length - 1; d >= 0; d--) {
        if (++idx[d]! < outerDims[d]!) break;
        idx[d] = 0;
      }
    }
    return y;
  }
  permute(run.view(a), r.dims, r.perm, run.view(y));
  return y;
}
