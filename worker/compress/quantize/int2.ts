// INT2 storage (ONNX type 26, opset 25; packing in worker/onnx/encoding.ts) and the DequantizeLinear that turns it
// back into the float weight: per-axis (one scale per index of `axis`) or blocked (`block_size` along `axis`).
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { packInt2 } from "../../onnx/encoding";
import { makeTensor } from "../../onnx/tensor";

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
