// A linear layer (y = x W + b with a fused per-channel epilogue) packed once at load for the kernel that fits its
// weight: int8 -> qs8 GEMM (int8 x unsigned 7-bit activations on the relaxed dot in the relaxed build), int4 blocked -> qs4 GEMM,
// 2-bit (ternary) levels widened at load -> qs8 per channel or qs4 per block of 32, +-scale per channel (1-bit) -> qs8
// (XNOR-popcount when the inputs are binarized activations),
// codebook indices into a table of at most 16 floats (a Gather of constants) -> lut4, mostly-zero 1x16
// blocks -> block-sparse, mostly-zero elements -> CSR, columns of at most 256 distinct sub-vectors (product
// quantization) -> pq, anything else -> fp32 GEMM. Weights stay in that compressed
// form in kernel memory; only activations move per run.
import type { GemmLayout } from "../../onnx/operators";
import type { KernelInstance, Ptr } from "../wasm/runtime";
import {
  binaryScales, stridedMatrix, packBinary, packBlockSparse1x16, packCsr, packF32Panels, packLut4, packPq, packQs4, packQs8, padded, qs4Offsets, roundUp, sparsityOf,
  type PackedPq, type PackedQs8, type StridedWeight, type Weight, type WeightMatrix,
} from "../wasm/packing";
import type { Epilogue, Grid, PlanContext } from "./op";
import { floatData, type Constant, type QuantizedForm, type SharedForm } from "./values";

/** Where element (k, n) of the GEMM's weight lies in a constant's flat data. */
export interface WeightView {
  K: number;
  N: number;
  index(k: number, n: number): number;
  /** Set when index(k, n) = offset + kStride * k + nStride * n: load then reads the flat arrays in plain loops. */
  strides?: { offset: number; kStride: number; nStride: number };
}

/** Group `group` of a weight laid out as the operator table's matrix products. */
export function gemmView(m: GemmLayout, group: number): WeightView {
  const { K, N, kStride, nStride } = m;
  const offset = group * m.groupStride;
  return { K, N, index: (k, n) => offset + k * kStride + n * nStride, strides: { offset, kStride, nStride } };
}

/**
 * A MatMul/Gemm node as one packed linear layer of its [M, K] x weight product, with the single-consumer chain after
 * it (bias, BatchNormalization, Relu/Clip) absorbed from `start`: the layer and the output its step must write.
 */
export function planLinear(ctx: PlanContext, w: Constant, layout: GemmLayout, start?: Epilogue): { linear: Linear; output: string } {
  const { epilogue, output } = ctx.absorbEpilogue(layout.N, 1, 2, start);
  const linear = createLinear(ctx.kx, w, gemmView(layout, 0), epilogue, inputOptions(ctx));
  ctx.noteKernel(linear.kernel);
  return { linear, output };
}

/** The view's strides when they stay inside `length` elements (the fast paths' precondition), else null. */
function stridesWithin(view: WeightView, length: number): WeightView["strides"] | null {
  const st = view.strides;
  if (!st || st.offset < 0 || st.kStride < 0 || st.nStride < 0) return null;
  if (view.K === 0 || view.N === 0) return st;
  return st.offset + (view.K - 1) * st.kStride + (view.N - 1) * st.nStride < length ? st : null;
}

export type LinearKernel = "f32" | "qs8" | "qs4" | "xnor" | "lut4" | "pq" | "bsr1x16" | "csr";

export interface Linear {
  readonly kernel: LinearKernel;
  readonly K: number;
  readonly N: number;
  /** Bytes of packed weights in kernel memory. */
  readonly bytes: number;
  /** C[M, N] (row stride ldc) = epilogue(A[M, K] (row stride lda) x W). */
  run(kx: KernelInstance, M: number, A: Ptr, lda: number, C: Ptr, ldc: number): void;
}

/** Sparsity from which the sparse kernels are used. Not swept yet: at 90% zeros npm run bench measures block-sparse
 * at 6-20x and CSR at 1-3x the dense fp32 GEMM, so these leave margin for less sparse weights. */
export const BLOCK_SPARSE_MIN = 0.6;
export const CSR_MIN = 0.9;

/** Scale index of each flat element of a quantized constant (scalar, per-axis or blocked along an axis). */
export function scaleIndexer(form: QuantizedForm, dims: readonly number[]): (flat: number) => number {
  if (form.scale.length === 1) return () => 0;
  const axis = form.axis < 0 ? form.axis + dims.length : form.axis;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis]!;
  if (form.blockSize <= 0) return (flat) => Math.floor(flat / inner) % size;
  const blocks = Math.ceil(size / form.blockSize);
  return (flat) => {
    const outer = Math.floor(flat / (inner * size));
    const a = Math.floor(flat / inner) % size;
    const i = flat % inner;
    return (outer * blocks + Math.floor(a / form.blockSize)) * inner + i;
  };
}

/** A quantized weight's levels and scales as a kernel choice reads them through `view`; null for a float weight. */
export function quantizedWeight(c: Constant, view: WeightView): QuantizedWeight | null {
  return c.quant ? (quantizedStrided(c.quant, c.dims, view) ?? quantizedByIndex(c.quant, c.dims, view)) : null;
}

export function channelScale(ep: Epilogue, n: number): number {
  return ep.scale ? ep.scale[n]! : 1;
}

/**
 * What the kernel choice asks of a quantized weight: its levels (as a matrix), whether its scale is constant over
 * spans of inputs, whether the levels are all +-1 or within a range, and the scale of element (k, n).
 */
export interface QuantizedWeight {
  levels: Weight;
  scaleAt(k: number, n: number): number;
  constantOver(span: number): boolean;
  isSigns(): boolean;
  inRange(lo: number, hi: number): boolean;
}

/** Any layout: each element through view.index and scaleIndexer (a call or two per element). */
function quantizedByIndex(quant: QuantizedForm, dims: readonly number[], view: WeightView): QuantizedWeight {
  const { K, N } = view;
  const scaleIdx = scaleIndexer(quant, dims);
  const scaleAt = (k: number, n: number) => quant.scale[scaleIdx(view.index(k, n))]!;
  const qm: WeightMatrix = { K, N, at: (k, n) => quant.q[view.index(k, n)]! };
  return {
    levels: qm,
    scaleAt,
    constantOver(span) {
      for (let n = 0; n < N; n++)
        for (let k0 = 0; k0 < K; k0 += span) {
          const s = scaleAt(k0, n);
          for (let k = k0 + 1; k < Math.min(K, k0 + span); k++) if (scaleAt(k, n) !== s) return false;
        }
      return true;
    },
    isSigns: () => isSigns(qm),
    inRange: (lo, hi) => inRange(qm, lo, hi),
  };
}

/**
 * Where the scale of element (k, n) lies: base + n * nStep + floor(k / kBlock) * bStep (no k term when kBlock is 0).
 * Found for a scalar scale, a scale per output channel, and blocks along the inputs; null for other layouts.
 */
interface ScaleGrid {
  base: number;
  nStep: number;
  kBlock: number;
  bStep: number;
}

function scaleGrid(form: QuantizedForm, dims: readonly number[], K: number, N: number, st: NonNullable<WeightView["strides"]>): ScaleGrid | null {
  if (form.scale.length === 1) return { base: 0, nStep: 0, kBlock: 0, bStep: 0 };
  const axis = form.axis < 0 ? form.axis + dims.length : form.axis;
  const size = dims[axis];
  if (size === undefined) return null;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const period = inner * size;
  const { offset, kStride, nStride } = st;
  let grid: ScaleGrid | null = null;
  if (form.blockSize <= 0) {
    // Scale index = axis index. k must leave it alone (whole periods, or within one run of `inner`), n step it by one.
    const kStill = kStride % period === 0 || (offset % inner) + (K - 1) * kStride < inner;
    const a0 = Math.floor(offset / inner) % size;
    if (kStill && nStride === inner && a0 + N <= size) grid = { base: a0, nStep: 1, kBlock: 0, bStep: 0 };
  } else if (kStride === inner) {
    // Blocks along the inputs: k steps the axis from its start; n steps the inner index or the outer one.
    const B = form.blockSize;
    const blocks = Math.ceil(size / B);
    const outer0 = Math.floor(offset / period);
    const a0 = Math.floor(offset / inner) % size;
    const i0 = offset % inner;
    const base = outer0 * blocks * inner + i0;
    if (a0 === 0 && K <= size) {
      if (nStride === 1 && i0 + N <= inner) grid = { base, nStep: 1, kBlock: B, bStep: inner };
      else if (nStride === period) grid = { base, nStep: blocks * inner, kBlock: B, bStep: inner };
    }
  }
  if (!grid || K === 0 || N === 0) return grid;
  const last = grid.base + (N - 1) * grid.nStep + (grid.kBlock ? Math.floor((K - 1) / grid.kBlock) * grid.bStep : 0);
  return last < form.scale.length ? grid : null;
}

/** Strided layouts with a scale grid and no NaN scales (NaN !== NaN would make the per-element check differ): plain loops. */
function quantizedStrided(quant: QuantizedForm, dims: readonly number[], view: WeightView): QuantizedWeight | null {
  const { K, N } = view;
  const st = stridesWithin(view, quant.q.length);
  const grid = st && scaleGrid(quant, dims, K, N, st);
  if (!st || !grid) return null;
  const scale = quant.scale;
  for (let i = 0; i < scale.length; i++) if (Number.isNaN(scale[i])) return null;
  const q = quant.q;
  const { offset, kStride, nStride } = st;
  const { base, nStep, kBlock, bStep } = grid;
  const levels: StridedWeight = { K, N, data: q, offset, kStride, nStride, colScale: null };
  // Order does not matter to these checks: a [K, N] or [N, K] block is one run of memory; other strides go
  // channels 16 at a time, then inputs, to keep the cache lines in use few.
  const contiguous = (kStride === N && nStride === 1) || (kStride === 1 && nStride === K);
  const every = (lo: number, hi: number, signs: boolean) => {
    if (contiguous) {
      for (let i = offset, end = offset + K * N; i < end; i++) {
        const v = q[i]!;
        if (v < lo || v > hi || (signs && v === 0)) return false;
      }
      return true;
    }
    for (let p = 0; p < N; p += 16) {
      const end = Math.min(p + 16, N);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n = p; n < end; n++) {
          const v = q[row + n * nStride]!;
          if (v < lo || v > hi || (signs && v === 0)) return false;
        }
      }
    }
    return true;
  };
  return {
    levels,
    scaleAt: (k, n) => scale[base + n * nStep + (kBlock ? Math.floor(k / kBlock) * bStep : 0)]!,
    constantOver(span) {
      if (kBlock === 0) return true;
      for (let n = 0; n < N; n++)
        for (let k0 = 0; k0 < K; k0 += span) {
          const first = base + n * nStep;
          const s = scale[first + Math.floor(k0 / kBlock) * bStep];
          const b1 = Math.floor((Math.min(K, k0 + span) - 1) / kBlock);
          for (let b = Math.floor(k0 / kBlock) + 1; b <= b1; b++) if (scale[first + b * bStep] !== s) return false;
        }
      return true;
    },
    isSigns: () => every(-1, 1, true) && K > 0,
    inRange: (lo, hi) => every(lo, hi, false),
  };
}

/** What a linear layer's choice of kernel knows of its inputs, and asks of it. */
export interface LinearOptions {
  narrowOnInt8?: boolean;
  /** The inputs are all -1 or +1 (a binarized activation). */
  signsInput?: boolean;
  /** The inputs lie on this static 8-bit grid (a DequantizeLinear of a QuantizeLinear's levels). */
  grid?: Grid;
}

/** The options input 0's mark gives a linear node. */
export function inputOptions(ctx: PlanContext): LinearOptions {
  const mark = ctx.mark(0);
  return { signsInput: mark?.kind === "signs", grid: mark?.kind === "grid" ? mark.grid : undefined };
}

/** Packs the weight for the fitting kernel. */
/**
 * `grid`: the inputs are levels of a static 8-bit grid, dequantized; they are quantized again onto it (exactly) and
 * any integer weight levels with one scale per channel run on the int8 kernel: what a QDQ export computes.
 * `signsInput`: the layer's inputs are all -1 or +1 (a binarized activation), so 1-bit weights run on XNOR-popcount,
 * exactly (each row's scale, its mean |a|, is 1).
 * `narrowOnInt8`: 4- and 2-bit levels with one scale per channel run on the int8 kernel (a byte per weight) rather
 * than the int4 one; convolutions ask for it (ResNet-18's 3x3 layers: the int4 kernel's per-block scaling made its
 * int4 variant 1.4x slower than int8).
 */
export function createLinear(
  kx: KernelInstance,
  c: Constant,
  view: WeightView,
  ep: Epilogue,
  options: LinearOptions = {},
): Linear {
  const { K, N } = view;
  const quant = c.quant;
  const qw = quantizedWeight(c, view);
  if (quant && qw) {
    const { levels: qm, scaleAt, constantOver } = qw;
    const perChannel = (n: number) => (K > 0 ? scaleAt(0, n) : 0) * channelScale(ep, n);
    // 1-bit weights (+-1 times a channel scale) run on the int8 kernel: sign-select on float activations is the
    // slowest kernel we have (docs/kernels.md), and +-1 levels are exact in int8. Inputs on a static grid (a QDQ
    // export's quantized activations) take any integer levels there.
    const signs = constantOver(K) && qw.isSigns();
    if (signs || (options.grid && constantOver(K) && qw.inRange(-127, 127))) return int8Family(kx, qm, perChannel, ep, options, signs);
    // 2-bit levels lie in [-2, 1]: int8 (per channel) and int4 (per block of 32) kernels hold them as they are.
    if ((quant.bits === 8 || quant.bits === 2 || options.narrowOnInt8) && constantOver(K) && qw.inRange(-127, 127)) {
      return qs8Linear(kx, qm, perChannel, ep);
    }
    // uint4 levels minus their zero points span -15..15, 16 consecutive integers in each block: stored offset per
    // block where -8..7 does not hold them.
    if ((quant.bits === 4 || quant.bits === 2) && constantOver(32)) {
      const offsets = qw.inRange(-8, 7) ? undefined : qs4Offsets(qm);
      if (offsets !== null) return qs4Linear(kx, qm, (n, b) => (b * 32 < K ? scaleAt(b * 32, n) : 0) * channelScale(ep, n), ep, offsets);
    }
  }
  // Codebook weights keep their 4-bit indices in kernel memory, decoded by table lookups in the kernel.
  if (c.shared && c.shared.table.length <= 16) return lut4Linear(kx, c.shared, view, ep);
  const data = floatData(c);
  const st = stridesWithin(view, data.length);
  const w: Weight =
    st && (!ep.scale || ep.scale.length >= N)
      ? { K, N, data, ...st, colScale: ep.scale }
      : { K, N, at: (k, n) => data[view.index(k, n)]! * channelScale(ep, n) };
  const signs = K >= 32 ? binaryScales(w) : null;
  if (signs) {
    const m = "at" in w ? w : stridedMatrix(w);
    return int8Family(kx, { K, N, at: (k, n) => Math.sign(m.at(k, n)) }, (n) => signs[n]!, ep, options, true);
  }
  const sparsity = sparsityOf(w);
  if (sparsity.blocks >= BLOCK_SPARSE_MIN) return blockSparseLinear(kx, w, ep);
  if (sparsity.elements >= CSR_MIN) return csrLinear(kx, w, ep);
  // A product-quantized weight folds to floats in the graph; its repeated sub-vectors are found again here, so its
  // weights stay at a byte per sub-vector in kernel memory.
  const pq = packPq({ K, N, at: (k, n) => data[view.index(k, n)]! });
  if (pq) return pqLinear(kx, pq, K, N, ep);
  return f32Linear(kx, w, ep);
}

function isSigns(w: WeightMatrix): boolean {
  for (let n = 0; n < w.N; n++) for (let k = 0; k < w.K; k++) if (Math.abs(w.at(k, n)) !== 1) return false;
  return w.K > 0;
}

function inRange(w: WeightMatrix, lo: number, hi: number): boolean {
  for (let n = 0; n < w.N; n++)
    for (let k = 0; k < w.K; k++) {
      const v = w.at(k, n);
      if (v < lo || v > hi) return false;
    }
  return true;
}

const biasOf = (ep: Epilogue, length: number) => padded(ep.bias, length);

/** Each channel's scale, zero past the N channels up to the packed Np. */
const scalesOf = (scaleOf: (n: number) => number, N: number, Np: number) => Float32Array.from({ length: Np }, (_, n) => (n < N ? scaleOf(n) : 0));

/**
 * Integer levels with one scale per channel: requantized exactly onto the inputs' static grid where they have one,
 * XNOR-popcount for +-1 levels times binarized inputs, else the int8 GEMM.
 */
function int8Family(kx: KernelInstance, w: Weight, scaleOf: (n: number) => number, ep: Epilogue, options: LinearOptions, signs: boolean): Linear {
  if (options.grid) return qs8StaticLinear(kx, w, scaleOf, ep, options.grid);
  return signs && options.signsInput ? xnorLinear(kx, w, scaleOf, ep) : qs8Linear(kx, w, scaleOf, ep);
}

// The run closures below capture sizes and kernel-memory pointers only, never the weight or its JS packing: a
// session holds its weights once, in kernel memory.

function f32Linear(kx: KernelInstance, w: Weight, ep: Epilogue): Linear {
  const { K, N } = w;
  const { lo, hi } = ep;
  const packed = packF32Panels(w);
  const b = kx.put(packed);
  const bias = kx.put(biasOf(ep, roundUp(N, 8)));
  return {
    kernel: "f32", K, N, bytes: packed.byteLength,
    run: (k, M, A, lda, C, ldc) => k.k.f32_gemm_wasmsimd_4x8(M, K, N, A, lda, b, bias, C, ldc, lo, hi),
  };
}

function lut4Linear(kx: KernelInstance, shared: SharedForm, view: WeightView, ep: Epilogue): Linear {
  const { K, N } = view;
  const { lo, hi } = ep;
  const packed = packLut4({ K, N, at: (k, n) => shared.index[view.index(k, n)]! });
  const W = kx.put(packed.data);
  const table = kx.put(padded(shared.table, 16));
  const scale = ep.scale ? kx.put(padded(ep.scale, packed.Np)) : 0;
  const bias = kx.put(biasOf(ep, packed.Np));
  return {
    kernel: "lut4", K, N, bytes: packed.data.byteLength + 64 + packed.Np * (ep.scale ? 8 : 4),
    run: (k, M, A, lda, C, ldc) => k.k.lut4_gemm_wasmsimd_4x8(M, K, N, A, lda, W, table, scale, bias, C, ldc, lo, hi),
  };
}

function pqLinear(kx: KernelInstance, pq: PackedPq, K: number, N: number, ep: Epilogue): Linear {
  const idx = kx.put(pq.idx);
  const bookT = kx.put(pq.bookT);
  const scale = ep.scale ? kx.put(padded(ep.scale, N)) : 0;
  const bias = kx.put(biasOf(ep, N));
  const tableBytes = (K / pq.d) * pq.kp * 4;
  const { d, kp } = pq;
  const { lo, hi } = ep;
  return {
    kernel: "pq", K, N, bytes: pq.idx.byteLength + pq.bookT.byteLength + N * (ep.scale ? 8 : 4),
    // The row's lookup tables live in the run's scratch (freed with the run).
    run: (k, M, A, lda, C, ldc) => k.k.pq_gemm_wasmsimd(M, K, N, d, kp, A, lda, idx, bookT, scale, bias, C, ldc, lo, hi, k.alloc(tableBytes)),
  };
}

/** Each output channel's sum of its int8 weight levels (Np entries, padding channels 0): zero-point and shift terms. */
function channelSums(packed: PackedQs8, N: number): Int32Array {
  const sums = new Int32Array(packed.Np);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let k = 0; k < packed.Kp; k++) sum += packed.data[n * packed.Kp + k]!;
    sums[n] = sum;
  }
  return sums;
}

/** Activations quantized per row into scratch memory (freed with the run). */
function quantizeRows(kx: KernelInstance, M: number, K: number, Kp: number, A: Ptr, lda: number) {
  const q = kx.alloc(M * Kp);
  const s = kx.alloc(M * 4);
  kx.k.qs8_quantize_rows(M, K, Kp, A, lda, q, s);
  return { q, s };
}

function qs8Linear(kx: KernelInstance, w: Weight, scaleOf: (n: number) => number, ep: Epilogue): Linear {
  const { K, N } = w;
  const { lo, hi } = ep;
  const packed = packQs8(w);
  const { Kp, Np } = packed;
  const W = kx.put(packed.data);
  const ws = kx.put(scalesOf(scaleOf, w.N, packed.Np));
  const bias = kx.put(biasOf(ep, packed.Np));
  if (kx.relaxed) {
    // The relaxed dot multiplies 16 int8 weights by 16 activations in [0, 127] per instruction: activations are
    // quantized per row as unsigned 7-bit with a zero point, corrected through each channel's weight sum.
    const sums = kx.put(channelSums(packed, N));
    return {
      kernel: "qs8", K, N, bytes: packed.data.byteLength + Np * 12,
      run(k, M, A, lda, C, ldc) {
        const q = k.alloc(M * Kp);
        const s = k.alloc(M * 4);
        const z = k.alloc(M * 4);
        k.k.qu7_quantize_rows(M, K, Kp, A, lda, q, s, z);
        k.k.qu7_gemm_wasmsimd_2x4(M, Kp, N, q, s, z, W, sums, ws, bias, C, ldc, lo, hi);
      },
    };
  }
  return {
    kernel: "qs8", K, N, bytes: packed.data.byteLength + Np * 8,
    run(k, M, A, lda, C, ldc) {
      const { q, s } = quantizeRows(k, M, K, Kp, A, lda);
      k.k.qs8_gemm_wasmsimd_2x4(M, Kp, N, q, s, W, ws, bias, C, ldc, lo, hi);
    },
  };
}

/** What a static grid's levels are lessened by to fit int8: 128 for uint8 levels, 0 for int8 ones. */
export const gridShift = (grid: Grid): number => (grid.lo === 0 ? 128 : 0);

/**
 * A channel's bias with the shift and the zero point brought back through its level sum (`weightScale` the channel's
 * weight scale): sum_k (level_k - zp) w_k = sum_k (level_k - shift) w_k + (shift - zp) sum_k w_k.
 */
export const gridBias = (grid: Grid, bias: number, weightScale: number, levelSum: number): number =>
  bias + grid.scale * weightScale * (gridShift(grid) - grid.zeroPoint) * levelSum;

/**
 * Integer weights times inputs on a static grid: each element back to its level (round(a / scale) + zeroPoint, exact
 * for a dequantized level), less 128 for uint8 levels so that it fits int8, then the int8 GEMM with the grid's scale
 * per row. The shift and the zero point come back through each channel's weight sum, in the bias (gridBias).
 */
function qs8StaticLinear(kx: KernelInstance, w: Weight, scaleOf: (n: number) => number, ep: Epilogue, grid: Grid): Linear {
  const { K, N } = w;
  const { lo, hi } = ep;
  const packed = packQs8(w);
  const { Kp, Np } = packed;
  const shift = gridShift(grid);
  const ws = scalesOf(scaleOf, N, Np);
  const bias = Float32Array.from(biasOf(ep, Np));
  const sums = channelSums(packed, N);
  for (let n = 0; n < N; n++) bias[n] = gridBias(grid, bias[n]!, ws[n]!, sums[n]!);
  const W = kx.put(packed.data);
  const wsP = kx.put(ws);
  const b = kx.put(bias);
  const { scale, zeroPoint, lo: qlo, hi: qhi } = grid;
  return {
    kernel: "qs8", K, N, bytes: packed.data.byteLength + Np * 8,
    run(k, M, A, lda, C, ldc) {
      const q = k.alloc(M * Kp);
      const s = k.alloc(M * 4);
      new Float32Array(k.k.memory.buffer, s, M).fill(scale);
      k.k.qs8_quantize_rows_static(M, K, Kp, A, lda, scale, zeroPoint, qlo, qhi, shift, q);
      k.k.qs8_gemm_wasmsimd_2x4(M, Kp, N, q, s, W, wsP, b, C, ldc, lo, hi);
    },
  };
}

/** 1-bit weights times binarized activations: each row packed to sign bits, then XNOR and popcount, 32x fewer bytes. */
function xnorLinear(kx: KernelInstance, w: Weight, scaleOf: (n: number) => number, ep: Epilogue): Linear {
  const { K, N } = w;
  const { lo, hi } = ep;
  const packed = packBinary(w);
  const { Kp, Np } = packed;
  const W = kx.put(packed.bits);
  const ws = kx.put(scalesOf(scaleOf, N, Np));
  const bias = kx.put(biasOf(ep, Np));
  return {
    kernel: "xnor", K, N, bytes: packed.bits.byteLength + Np * 8,
    run(k, M, A, lda, C, ldc) {
      const bits = k.alloc((M * Kp) / 8);
      const scales = k.alloc(M * 4);
      k.k.binary_pack_rows(M, K, Kp, A, lda, bits, scales);
      k.k.binary_xnor_gemm_wasmsimd_1x4(M, K, Kp, N, bits, scales, W, ws, bias, C, ldc, lo, hi);
    },
  };
}

/** `offsetsT` (qs4Offsets): blocks stored offset by more than 8, on the kernel that adds the difference back. */
function qs4Linear(kx: KernelInstance, w: Weight, scaleOf: (n: number, block32: number) => number, ep: Epilogue, offsetsT?: Int16Array): Linear {
  const { K, N } = w;
  const { lo, hi } = ep;
  const packed = packQs4(w, scaleOf, offsetsT);
  const { Kp, Np } = packed;
  const W = kx.put(packed.data);
  const wsT = kx.put(packed.scalesT);
  const zT = offsetsT ? kx.put(offsetsT) : 0;
  const bias = kx.put(biasOf(ep, Np));
  return {
    kernel: "qs4", K, N, bytes: packed.data.byteLength + packed.scalesT.byteLength + (offsetsT?.byteLength ?? 0) + Np * 4,
    run(k, M, A, lda, C, ldc) {
      // Rows quantized to int8 plus each block's activation sum (the correction for weights stored offset by 8).
      const q = k.alloc(M * Kp);
      const s = k.alloc(M * 4);
      const sums = k.alloc((M * Kp) / 8);
      k.k.qs4_quantize_rows(M, K, Kp, A, lda, q, s, sums);
      if (offsetsT) k.k.qs4z_gemm_wasmsimd_rx4(M, Kp, N, q, s, sums, W, wsT, zT, Np, bias, C, ldc, lo, hi);
      else k.k.qs4_gemm_wasmsimd_rx4(M, Kp, N, q, s, sums, W, wsT, Np, bias, C, ldc, lo, hi);
    },
  };
}

function blockSparseLinear(kx: KernelInstance, w: Weight, ep: Epilogue): Linear {
  const p = packBlockSparse1x16(w);
  const ptr = kx.put(p.ptr);
  const kidx = kx.put(p.kidx);
  const vals = kx.put(p.vals);
  const { K, N } = w;
  const { lo, hi } = ep;
  const bias = kx.put(biasOf(ep, roundUp(N, 16)));
  return {
    kernel: "bsr1x16", K, N, bytes: p.ptr.byteLength + p.kidx.byteLength + p.vals.byteLength,
    run: (k, M, A, lda, C, ldc) => k.k.f32_bsr1x16_gemm_wasmsimd_2x16(M, N, A, lda, ptr, kidx, vals, bias, C, ldc, lo, hi),
  };
}

function csrLinear(kx: KernelInstance, w: Weight, ep: Epilogue): Linear {
  const p = packCsr(w);
  const ptr = kx.put(p.ptr);
  const kidx = kx.put(p.kidx);
  const vals = kx.put(p.vals);
  const { K, N } = w;
  const { lo, hi } = ep;
  const bias = kx.put(biasOf(ep, N));
  return {
    kernel: "csr", K, N, bytes: p.ptr.byteLength + p.kidx.byteLength + p.vals.byteLength,
    run: (k, M, A, lda, C, ldc) => k.k.f32_csr_gemm_scalar_1x4(M, N, A, lda, ptr, kidx, vals, bias, C, ldc, lo, hi),
  };
}
