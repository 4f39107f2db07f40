// 2-bit weights, one scale per group (per output channel, or per block of inputs), on one of two grids. Ternary
// (the default): w ~ t * scale with t in {-1, 0, +1}, by Ternary Weight Networks' rule (Li et al. 2016): threshold
// delta = 0.7 * mean|w| of the group, scale = mean |w| over |w| > delta; chosen by top-1 on the MNIST reference
// models over the exact squared-error minimiser per group (which lost 10 points on mnist-mlp at block 32) and
// thresholds 0.5/0.6/0.8 (within noise of 0.7). INT2's four levels: w ~ q * scale with q in {-2, -1, 0, 1}, the
// scale (its sign too: a negative one puts the extra level on the positive side) the one of least squared error
// over a sweep of clipping ratios. docs/quantization.md, "2-bit and 1-bit", has the numbers.
import { channelLayout } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { int2Dequantize } from "./int2";
import { INT2_OPSET } from "./opset25";
import { quantizationError } from "./weights";
import type { AffineGrid, LevelRounding } from "./affine";

/** Group (scale) index of every element: per index of `axis` (block 0) or per block of `block` along `axis`,
 * in DequantizeLinear's scale layout. Returns the ids, the group count and the scale tensor's dims. */
export function groupLayout(dims: readonly number[], axis: number, block: number): { ids: Int32Array; groups: number; scaleDims: number[] } {
  const { outer, channels: size, inner } = channelLayout(dims, axis);
  const ids = new Int32Array(outer * size * inner);
  if (block <= 0) {
    for (let o = 0, k = 0; o < outer; o++) for (let a = 0; a < size; a++) for (let i = 0; i < inner; i++) ids[k++] = a;
    return { ids, groups: size, scaleDims: [size] };
  }
  const blocks = Math.ceil(size / block);
  for (let o = 0, k = 0; o < outer; o++)
    for (let a = 0; a < size; a++) {
      const b = Math.floor(a / block);
      for (let i = 0; i < inner; i++) ids[k++] = (o * blocks + b) * inner + i;
    }
  return { ids, groups: outer * blocks * inner, scaleDims: dims.map((d, k) => (k === axis ? blocks : d)) };
}

export interface Ternarized {
  /** -1, 0 or +1 per element. */
  levels: Int8Array;
  scales: Float32Array;
  reconstructed: Float32Array;
}

const TWN_THRESHOLD = 0.7;

/** Ternary levels and scales per group (see the module header). A group with nothing above its threshold (all
 * zero) gets scale 1 and levels 0, so that dequantization stays exact. */
export function ternarize(data: Float32Array, ids: Int32Array, groups: number): Ternarized {
  const sumAbs = new Float64Array(groups);
  const count = new Float64Array(groups);
  for (let k = 0; k < data.length; k++) {
    sumAbs[ids[k]!]! += Math.abs(data[k]!);
    count[ids[k]!]!++;
  }
  const delta = Float64Array.from(sumAbs, (s, g) => (TWN_THRESHOLD * s) / Math.max(1, count[g]!));
  const above = new Float64Array(groups);
  const aboveCount = new Float64Array(groups);
  const levels = new Int8Array(data.length);
  for (let k = 0; k < data.length; k++) {
    const a = Math.abs(data[k]!);
    if (a > delta[ids[k]!]!) {
      above[ids[k]!]! += a;
      aboveCount[ids[k]!]!++;
      levels[k] = data[k]! < 0 ? -1 : 1;
    }
  }
  const scales = Float32Array.from(above, (s, g) => (aboveCount[g]! > 0 ? s / aboveCount[g]! : 1));
  const reconstructed = Float32Array.from(levels, (t, k) => t * scales[ids[k]!]!);
  return { levels, scales, reconstructed };
}

/** Clipping ratios of the group's largest |w| the INT2 grid's scale sweeps: 2 * scale = ratio * max|w|. */
const INT2_RATIOS = Array.from({ length: 51 }, (_, i) => 0.2 + i * 0.02);

/**
 * INT2 levels in [-2, 1] and a scale per group, each group's scale (sign included) the one of INT2_RATIOS whose
 * levels give its weights the least squared error (ties: the first, positive before negative). An all-zero group gets
 * scale 1 and levels 0.
 */
export function int2Levels(data: Float32Array, ids: Int32Array, groups: number): Ternarized {
  const amax = new Float64Array(groups);
  for (let k = 0; k < data.length; k++) amax[ids[k]!] = Math.max(amax[ids[k]!]!, Math.abs(data[k]!));
  const best = new Float64Array(groups).fill(Infinity);
  const scales = new Float32Array(groups).fill(1);
  const err = new Float64Array(groups);
  const candidate = new Float32Array(groups);
  for (const ratio of INT2_RATIOS)
    for (const sign of [1, -1]) {
      for (let g = 0; g < groups; g++) candidate[g] = amax[g]! > 0 ? Math.fround((sign * ratio * amax[g]!) / 2) : 1;
      err.fill(0);
      for (let k = 0; k < data.length; k++) {
        const g = ids[k]!;
        const s = candidate[g]!;
        const q = Math.min(1, Math.max(-2, Math.round(data[k]! / s)));
        const e = data[k]! - q * s;
        err[g] = err[g]! + e * e;
      }
      for (let g = 0; g < groups; g++) {
        if (amax[g]! > 0 && err[g]! < best[g]!) {
          best[g] = err[g]!;
          scales[g] = candidate[g]!;
        }
      }
    }
  const levels = new Int8Array(data.length);
  for (let k = 0; k < data.length; k++) levels[k] = Math.min(1, Math.max(-2, Math.round(data[k]! / scales[ids[k]!]!)));
  const reconstructed = Float32Array.from(levels, (q, k) => q * scales[ids[k]!]!);
  return { levels, scales, reconstructed };
}

function onGrid(data: Float32Array, grid: AffineGrid, rounding: LevelRounding): Ternarized {
  const rounded = rounding(data, grid);
  const levels = Int8Array.from(rounded.levels);
  return { levels, scales: rounded.scales, reconstructed: Float32Array.from(levels, (t, k) => t * rounded.scales[grid.index[k]!]!) };
}

/** The 2-bit grids (see the module header). */
export type Int2Grid = "ternary" | "int2";

/**
 * 2-bit weight-only encoding: ternary (or INT2's four) levels stored as INT2 behind an opset-25 DequantizeLinear
 * (see int2.ts). `block` > 0 blocks 2-D weights (MatMul/Gemm) along their input axis; weights of higher rank (Conv)
 * and `block` 0 get one scale per output channel.
 */
export function ternary(block: number, gridKind: Int2Grid = "ternary"): WeightEncoding {
  return {
    bits: 2,
    unsupported: (w) => (w.opset < INT2_OPSET ? `2-bit weights need opset ${INT2_OPSET} (the model has ${w.opset})` : null),
    encode(w) {
      const blocked = block > 0 && w.dims.length === 2;
      const axis = blocked ? w.slot.inAxis : w.slot.outAxis;
      const blockSize = blocked ? Math.min(block, w.dims[axis]!) : 0;
      const layout = groupLayout(w.dims, axis, blockSize);
      const nearest = gridKind === "int2" ? int2Levels(w.data, layout.ids, layout.groups) : ternarize(w.data, layout.ids, layout.groups);
      // Error-compensating rounding keeps the grid's scales and picks each weight's level on it itself.
      const grid = { index: layout.ids, scales: nearest.scales, zeroPoints: null, scaleDims: layout.scaleDims, qmin: gridKind === "int2" ? -2 : -1, qmax: 1 };
      const t = w.rounding ? onGrid(w.data, grid, w.rounding) : nearest;
      const output = w.fresh(`${w.name}_dequantized`);
      const { initializers, nodes } = int2Dequantize(
        { levels: t.levels, dims: w.dims, scales: t.scales, scaleDims: layout.scaleDims, axis, blockSize },
        { levels: w.fresh(`${w.name}_ternary`), scale: w.fresh(`${w.name}_scale`), node: w.fresh(`${w.name}_dequantize`), output },
      );
      return { initializers, nodes, output, error: quantizationError(w.data, t.reconstructed), scales: t.scales, axis };
    },
  };
}
