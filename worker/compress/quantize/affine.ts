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

export function quantizeAffine(data: Float32Array, dims: readonly number[], grouping: Grouping, bits: number, symmetric: boolean): AffineQuantized {
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
  const levels = new Int32Array(data.length);
  const reconstructed = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const gi = index[i]!;
    const s = scales[gi]!;
    const zp = zeroPoints ? zeroPoints[gi]! : 0;
    const q = Math.min(qmax, Math.max(qmin, roundHalfEven(data[i]! / s) + zp));
    levels[i] = q;
    reconstructed[i] = (q - zp) * s;
  }
  return { levels, scales, zeroPoints, scaleDims, reconstructed };
}
