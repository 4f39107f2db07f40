// INT2 storage (ONNX type 26, opset 25): four signed 2-bit levels in [-2, 1] per byte, element 4i+j in bits 2j..2j+1
// (least significant first, zero padding in the last byte), and the DequantizeLinear that turns them back into the
// float weight: per-axis (one scale per index of `axis`) or blocked (`block_size` along `axis`).
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { makeTensor } from "../../onnx/tensor";

export const INT2_MIN = -2;
export const INT2_MAX = 1;

/** Packs signed 2-bit levels four per byte in the ONNX INT2 layout. Throws on a level outside [-2, 1]. */
export function packInt2(levels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(levels.length / 4));
  for (let i = 0; i < levels.length; i++) {
    const v = levels[i]!;
    if (v < INT2_MIN || v > INT2_MAX || !Number.isInteger(v)) throw new RangeError(`int2 level ${v} at ${i} is outside [-2, 1]`);
    out[i >> 2]! |= (v & 3) << ((i & 3) * 2);
  }
  return out;
}

/** The `count` signed levels of packed INT2 bytes. */
export function unpackInt2(packed: Uint8Array, count: number): Int8Array {
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const bits = (packed[i >> 2]! >> ((i & 3) * 2)) & 3;
    out[i] = bits > 1 ? bits - 4 : bits;
  }
  return out;
}

export interface Int2Weight {
  /** Levels in [-2, 1], laid out as the float weight. */
  levels: Int8Array;
  dims: number[];
  /** Scales: one per index of `axis` (blockSize 0) or DequantizeLinear's blocked layout. */
  scales: Float32Array;
  scaleDims: number[];
  axis: number;
  blockSize: number;
}

/** The INT2 initializer, its scales and the DequantizeLinear (opset 25) producing `output`. */
export function int2Dequantize(
  w: Int2Weight,
  names: { levels: string; scale: string; node: string; output: string },
): { initializers: TensorProto[]; nodes: NodeProto[] } {
  const attrs: Record<string, number> = w.blockSize > 0 ? { axis: w.axis, block_size: w.blockSize } : { axis: w.axis };
  return {
    initializers: [makeTensor(names.levels, DT.INT2, w.dims, packInt2(w.levels)), makeTensor(names.scale, DT.FLOAT, w.scaleDims, w.scales)],
    nodes: [makeNode("DequantizeLinear", [names.levels, names.scale], [names.output], names.node, attrs)],
  };
}
