// Load-time packing of weights into the layouts the kernels read (see kernels/src/*.c for each layout).
// Pure functions over plain arrays: the engine calls them once per model load; pruners can call
// packBlockSparse1x16 to see what a block-pruned weight costs. Each takes a weight either through `at` (any
// layout; a call per element) or as a flat array with strides (plain loops, the same result, several times faster).

/** A weight as the GEMMs see it: K inputs x N output channels, element (k, n). */
export interface WeightMatrix {
  K: number;
  N: number;
  at(k: number, n: number): number;
}

/** A weight in a flat array: element (k, n) = data[offset + k * kStride + n * nStride] * (colScale ? colScale[n] : 1). */
export interface StridedWeight {
  K: number;
  N: number;
  data: Float32Array | Int8Array;
  offset: number;
  kStride: number;
  nStride: number;
  colScale: Float32Array | null;
}

export type Weight = WeightMatrix | StridedWeight;

const isStrided = (w: Weight): w is StridedWeight => "data" in w;

/** The same weight read through `at`: what the strided paths are pinned to. */
export function stridedMatrix(w: StridedWeight): WeightMatrix {
  const { data, offset, kStride, nStride, colScale } = w;
  return { K: w.K, N: w.N, at: (k, n) => data[offset + k * kStride + n * nStride]! * (colScale ? colScale[n]! : 1) };
}

/*
 * The strided paths walk panels of PANEL output channels, all inputs k, then the channels of the panel: whichever of
 * k and n is contiguous in memory, the cache lines in use stay few ([K, N] rows are read PANEL values at a time;
 * PANEL [N, K] rows are read side by side, each in order). 64 measured 2x faster than 8 or 16 on [2048, 2048].
 */
const PANEL = 64;

/** A [K, N] row-major array (MatMul's B), or its transpose [N, K] (Gemm with transB, Conv's [M, C*kh*kw]). */
export function weightMatrix(data: ArrayLike<number>, K: number, N: number, layout: "kn" | "nk"): WeightMatrix {
  return layout === "kn"
    ? { K, N, at: (k, n) => data[k * N + n]! }
    : { K, N, at: (k, n) => data[n * K + k]! };
}

export const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** A vector of `length` floats, zero past `values` (kernels load bias and scales in whole vectors). */
export function padded(values: ArrayLike<number> | null, length: number): Float32Array {
  const out = new Float32Array(length);
  if (values) for (let i = 0; i < Math.min(values.length, length); i++) out[i] = values[i]!;
  return out;
}

/** fp32 panels of 8 columns for f32_gemm_wasmsimd_4x8. */
export function packF32Panels(w: Weight): Float32Array {
  const panels = Math.ceil(w.N / 8);
  const out = new Float32Array(panels * w.K * 8);
  if (isStrided(w)) {
    const { K, N, data, offset, kStride, nStride, colScale } = w;
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n = p; n < end; n++) out[((n >> 3) * K + k) * 8 + (n & 7)] = data[row + n * nStride]! * (colScale ? colScale[n]! : 1);
      }
    }
    return out;
  }
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < w.K; k++) {
      const base = (p * w.K + k) * 8;
      for (let j = 0; j < 8 && p * 8 + j < w.N; j++) out[base + j] = w.at(k, p * 8 + j);
    }
  }
  return out;
}

export interface PackedQs8 {
  Kp: number;
  Np: number;
  /** W^T, [Np, Kp] int8, zero padded. */
  data: Int8Array;
}

/** int8 weights (values already integers in [-127, 127]) as W^T rows padded to 16 for qs8_gemm_wasmsimd_2x4. */
export function packQs8(w: Weight): PackedQs8 {
  const Kp = roundUp(Math.max(w.K, 1), 16);
  const Np = roundUp(w.N, 4);
  const data = new Int8Array(Np * Kp);
  if (isStrided(w)) {
    const { K, N, offset, kStride, nStride, colScale } = w;
    const src = w.data;
    if (kStride === 1 && !colScale) {
      // Rows of W^T already contiguous (Gemm transB, Conv): copied whole.
      for (let n = 0; n < N; n++) data.set(src.subarray(offset + n * nStride, offset + n * nStride + K), n * Kp);
      return { Kp, Np, data };
    }
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n = p; n < end; n++) data[n * Kp + k] = src[row + n * nStride]! * (colScale ? colScale[n]! : 1);
      }
    }
    return { Kp, Np, data };
  }
  for (let n = 0; n < w.N; n++) for (let k = 0; k < w.K; k++) data[n * Kp + k] = w.at(k, n);
  return { Kp, Np, data };
}

/**
 * Integer weights [M, K] (level of channel m, input k) for qs8_pointwise_4x8: panels of 4 channels of int16 pairs of
 * inputs, [ceil(M/4)][ceil(K/2)][4][2], zeros past M and K (one i32 lane per channel and pair, splatted by the kernel).
 */
export function packQs8Pointwise(level: (m: number, k: number) => number, M: number, K: number): Int16Array {
  const Kh = Math.ceil(K / 2);
  const out = new Int16Array(Math.ceil(M / 4) * Kh * 8);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) out[(((m >> 2) * Kh + (k >> 1)) * 4 + (m & 3)) * 2 + (k & 1)] = level(m, k);
  return out;
}

/**
 * Integer weights [M, K] for qu7_pointwise_4x8: panels of 4 channels of quads of inputs, [ceil(M/4)][ceil(K/4)][4][4]
 * int8, zeros past M and K; and each channel's level sum (ceil(M/4) * 4 of them) that removes the zero points.
 */
export function packQu7Pointwise(level: (m: number, k: number) => number, M: number, K: number): { weights: Int8Array; sums: Int32Array } {
  const Kq = Math.ceil(K / 4);
  const weights = new Int8Array(Math.ceil(M / 4) * Kq * 16);
  const sums = new Int32Array(Math.ceil(M / 4) * 4);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      const v = level(m, k);
      weights[((m >> 2) * Kq + (k >> 2)) * 16 + (m & 3) * 4 + (k & 3)] = v;
      sums[m]! += v;
    }
  return { weights, sums };
}

export interface PackedQs4 {
  Kp: number;
  Np: number;
  /**
   * Weights plus 8 (0..15, so the relaxed dot's 7-bit operand), 64 bytes per block of 32 inputs of a group of 4 columns:
   * group g block b at (g * Kp/32 + b) * 64, byte 16p + 4c + t holds input 32b + 8p + t of column 4g + c in its low
   * nibble and input 32b + 8p + 4 + t in its high nibble; padding holds 8 (weight 0).
   */
  data: Uint8Array;
  /** Scale of block b (32 inputs) of channel n at [b * Np + n]. */
  scalesT: Float32Array;
  /** Block b of channel n stored offset by 8 + offsetsT[b * Np + n] (qs4z_gemm); absent: by 8. */
  offsetsT?: Int16Array;
}

/**
 * Where each block of 32 inputs of a channel spans more than int4's -8..7 but no more than 16 consecutive integers
 * (an asymmetric grid's levels less its zero point, -15..15): the offset beyond 8 that brings it into 0..15, by
 * [b * Np + n] (0 where -8..7 holds the block). null where some block spans more than 16 integers.
 */
export function qs4Offsets(w: Weight): Int16Array | null {
  const Kp = roundUp(Math.max(w.K, 1), 32);
  const Np = roundUp(w.N, 4);
  const offsets = new Int16Array((Kp / 32) * Np);
  const m = isStrided(w) ? stridedMatrix(w) : w;
  for (let n = 0; n < w.N; n++)
    for (let k0 = 0; k0 < w.K; k0 += 32) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = k0; k < Math.min(w.K, k0 + 32); k++) {
        const v = m.at(k, n);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > 15) return null;
      // 8 where -8..7 holds the block (as packQs4 stores it), else the least shift that brings its lowest to 0.
      offsets[(k0 / 32) * Np + n] = lo >= -8 && hi <= 7 ? 0 : -lo - 8;
    }
  return offsets;
}

/**
 * int4 weights (integers in [-8, 7], or in the 16 integers from -8 - offsetsT of each block) with a scale per 32
 * consecutive inputs of a channel.
 */
export function packQs4(w: Weight, scaleOf: (n: number, block32: number) => number, offsetsT?: Int16Array): PackedQs4 {
  const Kp = roundUp(Math.max(w.K, 1), 32);
  const Np = roundUp(w.N, 4);
  const blocks = Kp / 32;
  const data = new Uint8Array((Np * Kp) / 2).fill(0x88);
  const scalesT = new Float32Array(blocks * Np);
  for (let n = 0; n < w.N; n++) for (let b = 0; b < blocks; b++) scalesT[b * Np + n] = scaleOf(n, b);
  const put = (k: number, n: number, v: number) => {
    const r = k & 31;
    const i = ((n >> 2) * blocks + (k >> 5)) * 64 + 16 * (r >> 3) + 4 * (n & 3) + (r & 3);
    const u = (v + 8 + (offsetsT ? offsetsT[(k >> 5) * Np + n]! : 0)) & 15;
    data[i] = r & 4 ? (data[i]! & 0x0f) | (u << 4) : (data[i]! & 0xf0) | u;
  };
  if (isStrided(w)) {
    const { K, N, offset, kStride, nStride, colScale } = w;
    const src = w.data;
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n = p; n < end; n++) put(k, n, src[row + n * nStride]! * (colScale ? colScale[n]! : 1));
      }
    }
    return { Kp, Np, data, scalesT, ...(offsetsT ? { offsetsT } : {}) };
  }
  for (let n = 0; n < w.N; n++) for (let k = 0; k < w.K; k++) put(k, n, w.at(k, n));
  return { Kp, Np, data, scalesT, ...(offsetsT ? { offsetsT } : {}) };
}

/**
 * 4-bit codebook indices (0..15, a WeightMatrix of indices) in lut4_gemm's layout: panels of 8 columns, each k-quad
 * 16 bytes (8 for columns 0-3 of the panel, 8 for 4-7); in each 8, byte j holds element j (low nibble) and element
 * j + 8 (high nibble), element 4t + c being (k = 4q + t, column c). Padding is index 0.
 */
export function packLut4(indices: WeightMatrix): { Kq: number; Np: number; data: Uint8Array } {
  const Kq = Math.ceil(indices.K / 4);
  const Np = roundUp(indices.N, 8);
  const data = new Uint8Array((Np / 8) * Kq * 16);
  for (let n = 0; n < indices.N; n++)
    for (let k = 0; k < indices.K; k++) {
      const v = indices.at(k, n);
      if (!(v >= 0 && v <= 15 && Number.isInteger(v))) throw new RangeError(`codebook index ${v} at (${k}, ${n}) is outside 0..15`);
      const e = 4 * (k & 3) + (n & 3);
      const i = ((n >> 3) * Kq + (k >> 2)) * 16 + ((n >> 2) & 1) * 8 + (e & 7);
      data[i] = e < 8 ? (data[i]! & 0xf0) | v : (data[i]! & 0x0f) | (v << 4);
    }
  return { Kq, Np, data };
}

/** A product-quantized weight in pq_gemm's layout: the codebook transposed, and each column's sub-vector indices. */
export interface PackedPq {
  /** Inputs per sub-vector. */
  d: number;
  /** Codebook entries (distinct sub-vectors). */
  entries: number;
  /** Entries rounded up to 4: the row length of bookT and of the kernel's lookup tables. */
  kp: number;
  /** d rows of kp floats: bookT[j * kp + c] is input j of entry c (zero past `entries`). */
  bookT: Float32Array;
  /** N rows of K / d bytes: column n's sub-vector b is entry idx[n * (K / d) + b]. */
  idx: Uint8Array;
}

/** Sub-vector lengths tried, longest first (the fewest lookups per output). */
const PQ_SUBVECTORS = [16, 8, 4] as const;
/** Entries a byte of index addresses. */
export const PQ_MAX_ENTRIES = 256;
/** Uses per codebook entry below which the table costs more than it saves. */
const PQ_MIN_USES = 4;

/**
 * A weight whose columns are made of at most 256 distinct sub-vectors of d consecutive inputs (what a product-
 * quantized weight folds to: compress/quantize/pq.ts), each used 4 times or more on average, packed for pq_gemm;
 * null for any other weight. Sub-vectors are compared by their float32 bit patterns, so only exact repeats count.
 */
export function packPq(w: WeightMatrix): PackedPq | null {
  const { K, N } = w;
  const f32 = new Float32Array(16);
  const halves = new Uint16Array(f32.buffer);
  for (const d of PQ_SUBVECTORS) {
    const B = K / d;
    if (!Number.isInteger(B) || B === 0) continue;
    const ids = new Map<string, number>();
    const idx = new Uint8Array(N * B);
    const book: number[] = [];
    let fits = true;
    for (let n = 0; n < N && fits; n++)
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < d; j++) f32[j] = w.at(b * d + j, n);
        const key = String.fromCharCode(...halves.subarray(0, 2 * d));
        let id = ids.get(key);
        if (id === undefined) {
          if (ids.size === PQ_MAX_ENTRIES) {
            fits = false;
            break;
          }
          id = ids.size;
          ids.set(key, id);
          for (let j = 0; j < d; j++) book.push(f32[j]!);
        }
        idx[n * B + b] = id;
      }
    if (!fits || N * B < PQ_MIN_USES * ids.size) continue;
    const entries = ids.size;
    const kp = roundUp(entries, 4);
    const bookT = new Float32Array(d * kp);
    for (let c = 0; c < entries; c++) for (let j = 0; j < d; j++) bookT[j * kp + c] = book[c * d + j]!;
    return { d, entries, kp, bookT, idx };
  }
  return null;
}

export interface PackedBinary {
  Kp: number;
  Np: number;
  /** Row n: Kp/8 bytes, bit k = weight (k, n) is positive. */
  bits: Uint8Array;
}

/** Sign bits of a weight (positive -> 1) as W^T rows padded to 128 bits. */
export function packBinary(w: Weight): PackedBinary {
  const Kp = roundUp(Math.max(w.K, 1), 128);
  const Np = roundUp(w.N, 4);
  const bits = new Uint8Array((Np * Kp) / 8);
  if (isStrided(w)) {
    const { K, N, data, offset, kStride, nStride, colScale } = w;
    // A byte (8 inputs) per channel at a time, stored once.
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      for (let k0 = 0; k0 < K; k0 += 8) {
        const k1 = Math.min(k0 + 8, K);
        for (let n = p; n < end; n++) {
          const s = colScale ? colScale[n]! : 1;
          let byte = 0;
          for (let k = k0, i = offset + k0 * kStride + n * nStride; k < k1; k++, i += kStride) if (data[i]! * s > 0) byte |= 1 << (k - k0);
          bits[n * (Kp / 8) + (k0 >> 3)] = byte;
        }
      }
    }
    return { Kp, Np, bits };
  }
  for (let n = 0; n < w.N; n++) {
    for (let k = 0; k < w.K; k++) if (w.at(k, n) > 0) bits[n * (Kp / 8) + (k >> 3)]! |= 1 << (k & 7);
  }
  return { Kp, Np, bits };
}

/**
 * The per-channel scale of a binary weight: every channel holds at most two values, +s and -s (s >= 0).
 * Returns null when some channel holds anything else (the weight is not binary).
 */
export function binaryScales(w: Weight): Float32Array | null {
  const scales = new Float32Array(w.N);
  if (isStrided(w)) {
    // Per channel: the first magnitude, then every other must equal it (kept as doubles, as `at` returns them).
    const { K, N, data, offset, kStride, nStride, colScale } = w;
    const first = new Float64Array(Math.min(PANEL, N));
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      first.fill(-1);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n = p; n < end; n++) {
          const a = Math.abs(data[row + n * nStride]! * (colScale ? colScale[n]! : 1));
          const s = first[n - p]!;
          if (s < 0) first[n - p] = a;
          else if (a !== s) return null;
        }
      }
      for (let n = p; n < end; n++) scales[n] = Math.max(first[n - p]!, 0);
    }
    return scales;
  }
  for (let n = 0; n < w.N; n++) {
    let s = -1;
    for (let k = 0; k < w.K; k++) {
      const a = Math.abs(w.at(k, n));
      if (s < 0) s = a;
      else if (a !== s) return null;
    }
    scales[n] = Math.max(s, 0);
  }
  return scales;
}

export interface PackedBlockSparse {
  N: number;
  /** Blocks of panel p (16 output columns) are ptr[p]..ptr[p+1]-1. */
  ptr: Int32Array;
  /** Input row of each block. */
  kidx: Int32Array;
  /** 16 values per block (zero past N). */
  vals: Float32Array;
}

/** 1x16 block-sparse form: a block (one input row, 16 consecutive output columns) is kept unless all zero. */
export function packBlockSparse1x16(w: Weight): PackedBlockSparse {
  const panels = Math.ceil(w.N / 16);
  const ptr = new Int32Array(panels + 1);
  if (isStrided(w)) return packBlockSparseStrided(w, panels, ptr);
  const kidx: number[] = [];
  const vals: number[] = [];
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < w.K; k++) {
      const block = new Array<number>(16).fill(0);
      let any = false;
      for (let j = 0; j < 16 && p * 16 + j < w.N; j++) {
        block[j] = w.at(k, p * 16 + j);
        if (block[j] !== 0) any = true;
      }
      if (!any) continue;
      kidx.push(k);
      vals.push(...block);
    }
    ptr[p + 1] = kidx.length;
  }
  return { N: w.N, ptr, kidx: Int32Array.from(kidx), vals: Float32Array.from(vals) };
}

/** Blocks kept are marked in a first pass (a byte per block), then filled: typed arrays of the exact size. */
function packBlockSparseStrided(w: StridedWeight, panels: number, ptr: Int32Array): PackedBlockSparse {
  const { K, N, data, offset, kStride, nStride, colScale } = w;
  const kept = new Uint8Array(panels * K);
  for (let p0 = 0; p0 < N; p0 += PANEL) {
    const end = Math.min(p0 + PANEL, N);
    for (let k = 0; k < K; k++) {
      const row = offset + k * kStride;
      for (let n0 = p0; n0 < end; n0 += 16) {
        for (let n = n0, blockEnd = Math.min(n0 + 16, end); n < blockEnd; n++) {
          if (data[row + n * nStride]! * (colScale ? colScale[n]! : 1) !== 0) {
            kept[(n0 >> 4) * K + k] = 1;
            break;
          }
        }
      }
    }
  }
  for (let p = 0; p < panels; p++) {
    let count = 0;
    for (let k = 0; k < K; k++) count += kept[p * K + k]!;
    ptr[p + 1] = ptr[p]! + count;
  }
  const kidx = new Int32Array(ptr[panels]!);
  const vals = new Float32Array(ptr[panels]! * 16);
  for (let p = 0, b = 0; p < panels; p++) {
    const end = Math.min(p * 16 + 16, N);
    for (let k = 0; k < K; k++) {
      if (!kept[p * K + k]) continue;
      const row = offset + k * kStride;
      kidx[b] = k;
      for (let n = p * 16; n < end; n++) vals[b * 16 + n - p * 16] = data[row + n * nStride]! * (colScale ? colScale[n]! : 1);
      b++;
    }
  }
  return { N, ptr, kidx, vals };
}

export interface PackedCsr {
  N: number;
  /** Nonzeros of output column n are ptr[n]..ptr[n+1]-1. */
  ptr: Int32Array;
  kidx: Int32Array;
  vals: Float32Array;
}

/** Compressed sparse columns of the weight (CSR over W^T). */
export function packCsr(w: Weight): PackedCsr {
  const ptr = new Int32Array(w.N + 1);
  if (isStrided(w)) return packCsrStrided(w, ptr);
  const kidx: number[] = [];
  const vals: number[] = [];
  for (let n = 0; n < w.N; n++) {
    for (let k = 0; k < w.K; k++) {
      const v = w.at(k, n);
      if (v !== 0) {
        kidx.push(k);
        vals.push(v);
      }
    }
    ptr[n + 1] = kidx.length;
  }
  return { N: w.N, ptr, kidx: Int32Array.from(kidx), vals: Float32Array.from(vals) };
}

/** Nonzeros counted per column, then placed through a cursor per column (k ascending within each, as `at` order gives). */
function packCsrStrided(w: StridedWeight, ptr: Int32Array): PackedCsr {
  const { K, N, data, offset, kStride, nStride, colScale } = w;
  for (let p = 0; p < N; p += PANEL) {
    const end = Math.min(p + PANEL, N);
    for (let k = 0; k < K; k++) {
      const row = offset + k * kStride;
      for (let n = p; n < end; n++) ptr[n + 1] = ptr[n + 1]! + +(data[row + n * nStride]! * (colScale ? colScale[n]! : 1) !== 0);
    }
  }
  for (let n = 0; n < N; n++) ptr[n + 1] = ptr[n + 1]! + ptr[n]!;
  const kidx = new Int32Array(ptr[N]!);
  const vals = new Float32Array(ptr[N]!);
  const cursor = ptr.slice(0, N);
  for (let p = 0; p < N; p += PANEL) {
    const end = Math.min(p + PANEL, N);
    for (let k = 0; k < K; k++) {
      const row = offset + k * kStride;
      for (let n = p; n < end; n++) {
        const v = data[row + n * nStride]! * (colScale ? colScale[n]! : 1);
        if (v !== 0) {
          kidx[cursor[n]!] = k;
          vals[cursor[n]!++] = v;
        }
      }
    }
  }
  return { N, ptr, kidx, vals };
}

/** Fraction of all-zero 1x16 blocks and of zero elements: what decides between dense and sparse kernels. */
export function sparsityOf(w: Weight): { blocks: number; elements: number } {
  let zeroBlocks = 0;
  let blocks = 0;
  let zeros = 0;
  if (isStrided(w)) {
    // The same counts in panel order (PANEL is a multiple of 16: each k of a panel holds whole blocks).
    const { K, N, data, offset, kStride, nStride, colScale } = w;
    for (let p = 0; p < N; p += PANEL) {
      const end = Math.min(p + PANEL, N);
      for (let k = 0; k < K; k++) {
        const row = offset + k * kStride;
        for (let n0 = p; n0 < end; n0 += 16) {
          // Counted without a branch per element: zeros are unpredictable in pruned weights.
          let nonzeros = 0;
          const blockEnd = Math.min(n0 + 16, end);
          for (let n = n0; n < blockEnd; n++) nonzeros += +(data[row + n * nStride]! * (colScale ? colScale[n]! : 1) !== 0);
          zeros += blockEnd - n0 - nonzeros;
          blocks++;
          if (nonzeros === 0) zeroBlocks++;
        }
      }
    }
    const total = K * N;
    return { blocks: blocks ? zeroBlocks / blocks : 0, elements: total ? zeros / total : 0 };
  }
  for (let k = 0; k < w.K; k++) {
    for (let n0 = 0; n0 < w.N; n0 += 16) {
      let any = false;
      for (let n = n0; n < Math.min(n0 + 16, w.N); n++) {
        if (w.at(k, n) !== 0) any = true;
        else zeros++;
      }
      blocks++;
      if (!any) zeroBlocks++;
    }
  }
  const total = w.K * w.N;
  return { blocks: blocks ? zeroBlocks / blocks : 0, elements: total ? zeros / total : 0 };
}
