// 4-bit weight-only encoding, symmetric (levels -7..7): blocks of `block` inputs per output channel for 2-D weights
// (MatMul/Gemm), one scale per output channel for the others (Conv, ConvTranspose, LSTM/GRU/RNN, on whichever axis).
// Stored as INT4 (two per byte) behind an opset-21 DequantizeLinear (`block_size`), so it needs the model at opset 21
// (see opset21.ts for lifting 13-20).
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { packInt4, roundHalfEven } from "../../onnx/encoding";
import { channelLayout, makeTensor } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { quantizationError } from "./weights";
import { quantizeAffine, type Grouping, type LevelRounding } from "./affine";

const QMAX = 7;

/**
 * Symmetric quantization with one scale per block of `block` consecutive indices along `axis` (block = the axis
 * length gives one scale per slice). Returns levels, scales in DequantizeLinear's blocked layout and the reconstruction.
 */
export function quantizeBlocked(data: Float32Array, dims: readonly number[], axis: number, block: number) {
  const { outer, channels: size, inner } = channelLayout(dims, axis);
  const blocks = Math.ceil(size / block);
  const scales = new Float32Array(outer * blocks * inner);
  const levels = new Int8Array(data.length);
  const reconstructed = new Float32Array(data.length);
  for (let o = 0; o < outer; o++)
    for (let b = 0; b < blocks; b++)
      for (let i = 0; i < inner; i++) {
        const idx = (a: number) => (o * size + a) * inner + i;
        let absmax = 0;
        for (let a = b * block; a < Math.min(size, (b + 1) * block); a++) absmax = Math.max(absmax, Math.abs(data[idx(a)]!));
        const scale = absmax > 0 ? Math.fround(absmax / QMAX) : 1;
        scales[(o * blocks + b) * inner + i] = scale;
        for (let a = b * block; a < Math.min(size, (b + 1) * block); a++) {
          const q = Math.max(-QMAX, Math.min(QMAX, roundHalfEven(data[idx(a)]! / scale)));
          levels[idx(a)] = q;
          reconstructed[idx(a)] = q * scale;
        }
      }
  return { levels, scales, reconstructed, scaleDims: dims.map((d, k) => (k === axis ? blocks : d)) };
}

/**
 * Symmetric quantization with one scale per index of `axis`, over every other axis (those before it too: a
 * ConvTranspose weight [in, out, kh, kw] or an LSTM's [directions, gates, in] has its output channels on axis 1).
 */
export function quantizePerAxis(data: Float32Array, dims: readonly number[], axis: number) {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const absmax = new Float32Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0, base = (o * channels + c) * inner; i < inner; i++) absmax[c] = Math.max(absmax[c]!, Math.abs(data[base + i]!));
  const scales = Float32Array.from(absmax, (m) => (m > 0 ? Math.fround(m / QMAX) : 1));
  const levels = new Int8Array(data.length);
  const reconstructed = new Float32Array(data.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0, base = (o * channels + c) * inner; i < inner; i++) {
        const q = Math.max(-QMAX, Math.min(QMAX, roundHalfEven(data[base + i]! / scales[c]!)));
        levels[base + i] = q;
        reconstructed[base + i] = q * scales[c]!;
      }
  return { levels, scales, reconstructed };
}

/** The same grid as quantizeBlocked / quantizePerAxis (symmetric absmax / 7), with levels chosen by `rounding`. */
function roundedOnGrid(data: Float32Array, dims: readonly number[], grouping: Grouping, rounding: LevelRounding) {
  const q = quantizeAffine(data, dims, grouping, 4, true, rounding);
  return { levels: Int8Array.from(q.levels), scales: q.scales, reconstructed: q.reconstructed, scaleDims: q.scaleDims };
}

export function int4(block: number): WeightEncoding {
  return {
    bits: 4,
    unsupported: (w) => (w.opset < 21 ? `4-bit weights need opset 21 (the model has ${w.opset})` : null),
    encode(w) {
      // 2-D weights block along their input axis; others (Conv) get one scale per output channel.
      const blocked = w.dims.length === 2;
      const axis = blocked ? w.slot.inAxis : w.slot.outAxis;
      const inputAxisLength = blocked ? w.dims[axis]! : 1;
      const q = w.rounding
        ? roundedOnGrid(w.data, w.dims, blocked ? { kind: "block", axis, block: Math.min(block, inputAxisLength) } : { kind: "channel", axis }, w.rounding)
        : blocked
          ? quantizeBlocked(w.data, w.dims, axis, block)
          : { ...quantizePerAxis(w.data, w.dims, axis), scaleDims: [w.dims[axis]!] };
      const qName = w.fresh(`${w.name}_int4`);
      const sName = w.fresh(`${w.name}_scale`);
      const output = w.fresh(`${w.name}_dequantized`);
      const attrs: Record<string, number> = blocked ? { axis, block_size: Math.min(block, inputAxisLength) } : { axis };
      return {
        initializers: [makeTensor(qName, DT.INT4, w.dims, packInt4(q.levels)), makeTensor(sName, DT.FLOAT, q.scaleDims, q.scales)],
        nodes: [makeNode("DequantizeLinear", [qName, sName], [output], w.fresh(`${w.name}_dequantize`), attrs)],
        output,
        error: quantizationError(w.data, q.reconstructed),
        scales: q.scales,
        axis,
      };
    },
  };
}
