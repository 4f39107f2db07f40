// 4-bit weight-only encoding, symmetric (levels -7..7): blocks of `block` inputs per output channel for 2-D weights
// (MatMul/Gemm), one scale per output channel for convolutions. Stored as INT4 (two per byte) behind an opset-21
// DequantizeLinear (`block_size`), so it needs the model at opset 21 (see opset21.ts for lifting 13-20).
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { packInt4, roundHalfEven } from "../../onnx/encoding";
import { channelLayout, makeTensor } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { quantizationError } from "./weights";

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

export function int4(block: number): WeightEncoding {
  return {
    bits: 4,
    unsupported: (w) =>
      w.opset < 21
        ? `4-bit weights need opset 21 (the model has ${w.opset})`
        : w.dims.length !== 2 && w.slot.outAxis !== 0
          ? "4-bit weights of rank > 2 need their output channels on axis 0"
          : null,
    encode(w) {
      // 2-D weights block along their input axis; others (Conv) get one scale per output channel.
      const blocked = w.dims.length === 2;
      const axis = blocked ? w.slot.inAxis : w.slot.outAxis;
      const inputAxisLength = blocked ? w.dims[axis]! : 1;
      const q = blocked
        ? quantizeBlocked(w.data, w.dims, axis, block)
        : quantizeBlocked(w.data, w.dims.slice(0, axis + 1).concat(w.dims.slice(axis + 1).reduce((a, b) => a * b, 1)), axis + 1, Number.MAX_SAFE_INTEGER);
      const qName = w.fresh(`${w.name}_int4`);
      const sName = w.fresh(`${w.name}_scale`);
      const output = w.fresh(`${w.name}_dequantized`);
      const attrs: Record<string, number> = blocked ? { axis, block_size: Math.min(block, inputAxisLength) } : { axis };
      const scaleDims = blocked ? q.scaleDims : [w.dims[axis]!];
      return {
        initializers: [makeTensor(qName, DT.INT4, w.dims, packInt4(q.levels)), makeTensor(sName, DT.FLOAT, scaleDims, q.scales)],
        nodes: [makeNode("DequantizeLinear", [qName, sName], [output], w.fresh(`${w.name}_dequantize`), attrs)],
        output,
        error: quantizationError(w.data, q.reconstructed),
        scales: q.scales,
        axis,
      };
    },
  };
}
