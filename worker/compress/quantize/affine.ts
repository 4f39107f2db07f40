// Affine weight quantization (scale and zero point per group) for the granularities a recipe may ask beyond the
// default symmetric per-channel path: one group for the whole tensor, one per channel, or blocks along an axis;
// symmetric (signed levels, zero point 0) or asymmetric (unsigned levels over a range that includes 0, so an exact
// zero stays exact). Rounding is half to even, as ONNX QuantizeLinear rounds.
import { roundHalfEven } from "../../onnx/encoding";
import { channelLayout } from "../../onnx/tensor";

/** How weights are grouped under one scale: the whole tensor, each index of `axis`, or `block` indices along `axis`. */
export type Grouping = { kind: "tensor" } | { kind: "channel"; axis: number } | { kind: "block"; axis: number; block: number };

export interface AffineQuantized {
  /** Integer levels as stored (signed for symmetric, unsigned for asymmetric). */
  levels: Int32Array;
  scales: Float32Array;
  /** Zero point per group; null for symmetric (all zero). */
  zeroPoints: Int32Array | null;
  /** Shape of the scale (and zero point) tensor in DequantizeLinear's layout for the grouping. */
  scaleDims: number[];
  /** levels dequantized as float32: (level - zero point) x scale. */
  reconstructed: Float32Array;
}

/** Group index of every element, and the group count and scale shape. */
function groupsOf(dims: readonly number[], g: Grouping): { count: number; scaleDims: number[]; index: Int32Array } {
  const n = dims.reduce((a, b) => a * b, 1);
  const index = new Int32Array(n);
  if (g.kind === "tensor") return { count: 1, scaleDims: [], index };
  const { outer, channels, inner } = channelLayout(dims, g.axis);
  if (g.kind === "channel") {
    for (let o = 0, i = 0; o < outer; o++) for (let c = 0; c < channels; c++) for (let k = 0; k < inner; k++) index[i++] = c;
    return { count: channels, scaleDims: [channels], index };
  }
  const blocks = Math.ceil(channels / g.block);
  for (let o = 0, i = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const b = Math.floor(c / g.block);
      for (let k = 0; k < inner; k++) index[i++] = (o * blocks + b) * inner + k;
    }
  return { count: outer * blocks * inner, scaleDims: dims.map((d, k) => (k === g.axis ? blocks : d)), index };
}

/** The quantization grid of a weight: each element's group, and each group's scale and zero point. */
export interface AffineGrid {
  /** Group of every element. */
  index: Int32Array;
  scales: Float32Array;
  /** Zero point per group; null for symmetric (all zero). */
  zeroPoints: Int32Array | null;
  scaleDims: number[];
  qmin: number;
  qmax: number;
  /** Levels are -1 and +1 only (1-bit): the nearest is the sign, +1 for 0. */
  signOnly?: boolean;
}

/** The level nearest to `value` in group `g` of the grid (half to even, clamped; the sign for a sign-only grid). */
export function nearestLevel(value: number, grid: AffineGrid, g: number): number {
  if (grid.signOnly) return value >= 0 ? 1 : -1;
  const zp = grid.zeroPoints ? grid.zeroPoints[g]! : 0;
  return Math.min(grid.qmax, Math.max(grid.qmin, roundHalfEven(value / grid.scales[g]!) + zp));
}

/** Levels on a grid, and the grid's scales as the rounding leaves them (the grid's own unless it refits them). */
export interface Rounded {
  levels: Int32Array;
  scales: Float32Array;
}

/**
 * How levels are chosen on a grid: nearest rounding here; error-compensating rounding (GPTQ) picks other levels on the
 * same grid (and may refit a two- or three-level grid's scales), so every encoding stores what it always stored.
 */
export type LevelRounding = (data: Float32Array, grid: AffineGrid) => Rounded;

/** Scales (and zero points) from each group's range: absmax for symmetric, [min, max] widened to include 0 otherwise. */
export function affineGrid(data: Float32Array, dims: readonly number[], grouping: Grouping, bits: number, symmetric: boolean): AffineGrid {
  const { count, scaleDims, index } = groupsOf(dims, grouping);
  const lo = new Float64Array(count); // min over the group, at most 0
  const hi = new Float64Array(count); // max over the group, at least 0
  for (let i = 0; i < data.length; i++) {
    const w = data[i]!;
    const gi = index[i]!;
    if (w < lo[gi]!) lo[gi] = w;
    if (w > hi[gi]!) hi[gi] = w;
  }
  const scales = new Float32Array(count);
  const zeroPoints = symmetric ? null : new Int32Array(count);
  const qmin = symmetric ? -(2 ** (bits - 1) - 1) : 0;
  const qmax = symmetric ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  for (let gi = 0; gi < count; gi++) {
    const range = symmetric ? Math.max(-lo[gi]!, hi[gi]!) / qmax : (hi[gi]! - lo[gi]!) / qmax;
    // An all-zero group gets scale 1 so that dequantization stays exact.
    const s = range > 0 ? Math.fround(range) : 1;
    scales[gi] = s;
    if (zeroPoints) zeroPoints[gi] = Math.min(qmax, Math.max(0, roundHalfEven(-lo[gi]! / s)));
  }
  return { index, scales, zeroPoints, scaleDims, qmin, qmax };
}

/** How a symmetric grid's scales are chosen: each group's absmax / qmax, or clipped to its least squared error. */
export const SCALE_CHOICES = ["absmax", "mse"] as const;
export type ScaleChoice = (typeof SCALE_CHOICES)[number];

/**
 * Clipping ratios `scale: "mse"` tries per group: absmax x 1, 0.975, ..., 0.525 (20 steps, as AWQ's clip search takes
 * them). Below about half the absmax, clipping costs more than the finer step saves at 4 bits and more.
 */
export const MSE_CLIP_RATIOS: readonly number[] = Array.from({ length: 20 }, (_, i) => 1 - 0.025 * i);

/**
 * A symmetric grid with each group's scale clipped to the ratio of MSE_CLIP_RATIOS whose nearest levels give that
 * group's weights the least squared error (the largest ratio on a tie, so a group nothing improves keeps absmax).
 * Absmax spends the grid's levels on a group's one or two extreme weights; a Gaussian-like group is better served
 * by a finer step that clips them. Sign-only and zero-point grids are returned as they are.
 */
export function mseClippedGrid(data: Float32Array, grid: AffineGrid): AffineGrid {
  if (grid.signOnly || grid.zeroPoints) return grid;
  const { index, qmin, qmax } = grid;
  const count = grid.scales.length;
  // A group whose error is never a number (a NaN weight) keeps absmax's scale, as nearest rounding would have it.
  const scales = Float32Array.from(grid.scales);
  const best = new Float64Array(count).fill(Infinity);
  const err = new Float64Array(count);
  const candidate = new Float32Array(count);
  // One pass over the weights per ratio, each group's error summed in place: no copy of the weight beside the grid.
  for (const ratio of MSE_CLIP_RATIOS) {
    for (let g = 0; g < count; g++) candidate[g] = Math.fround(grid.scales[g]! * ratio);
    err.fill(0);
    for (let i = 0; i < data.length; i++) {
      const g = index[i]!;
      const s = candidate[g]!;
      const w = data[i]!;
      const d = w - Math.min(qmax, Math.max(qmin, roundHalfEven(w / s))) * s;
      err[g] = err[g]! + d * d;
    }
    for (let g = 0; g < count; g++) {
      if (err[g]! < best[g]!) {
        best[g] = err[g]!;
        scales[g] = candidate[g]!;
      }
    }
  }
  return { ...grid, scales };
}

/** `round` on the grid mseClippedGrid makes of the one it is given. */
export function onMseClippedGrid(round: LevelRounding): LevelRounding {
  return (data, grid) => round(data, mseClippedGrid(data, grid));
}

/** Each element at its nearest level (half to even), clamped to the grid's range. */
export const nearestLevels: LevelRounding = (data, grid) => {
  const levels = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) levels[i] = nearestLevel(data[i]!, grid, grid.index[i]!);
  return { levels, scales: grid.scales };
};

export function quantizeAffine(
  data: Float32Array,
  dims: readonly number[],
  grouping: Grouping,
  bits: number,
  symmetric: boolean,
  round: LevelRounding = nearestLevels,
): AffineQuantized {
  const grid = affineGrid(data, dims, grouping, bits, symmetric);
  const { levels, scales } = round(data, grid);
  const reconstructed = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const gi = grid.index[i]!;
    reconstructed[i] = (levels[i]! - (grid.zeroPoints ? grid.zeroPoints[gi]! : 0)) * scales[gi]!;
  }
  return { levels, scales, zeroPoints: grid.zeroPoints, scaleDims: grid.scaleDims, reconstructed };
}
