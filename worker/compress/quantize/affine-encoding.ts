// The encoding of int8 / int4 weights under a non-default granularity or zero point: per tensor, per channel or
// blocks along the input axis; signed symmetric or unsigned with zero points. Stored as INT8/UINT8 (or INT4/UINT4)
// behind DequantizeLinear: per tensor from opset 10, per axis from 13, blocked (and any 4-bit) from 21. Opsets
// 7-12 get Cast (- zero point) x scale with broadcasting shapes instead.
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { packInt4 } from "../../onnx/encoding";
import { makeTensor } from "../../onnx/tensor";
import { quantizeAffine, type Grouping } from "./affine";
import { broadcastShape, type WeightEncoding, type WeightToEncode } from "./encoding";
import { quantizationError } from "./weights";

export type Granularity = "per-tensor" | "per-channel" | { block: number };

export interface AffineOptions {
  bits: 8 | 4;
  granularity: Granularity;
  symmetric: boolean;
}

/** Blocked weights and 4-bit storage need opset 21's DequantizeLinear. */
export function needsOpset21(o: AffineOptions): boolean {
  return o.bits === 4 || typeof o.granularity === "object";
}

/**
 * Where the scales run: the output-channel axis per channel; blocks along the input axis of a 2-D weight (at most
 * that axis long). Convolution weights asked for blocks get one scale per output channel, as int4 does.
 */
function groupingOf(w: WeightToEncode, g: Granularity): Grouping {
  if (g === "per-tensor") return { kind: "tensor" };
  if (g === "per-channel" || w.dims.length !== 2) return { kind: "channel", axis: w.slot.outAxis };
  const axis = w.slot.inAxis;
  return { kind: "block", axis, block: Math.min(g.block, w.dims[axis]!) };
}

function storage(bits: 8 | 4, symmetric: boolean): number {
  if (bits === 8) return symmetric ? DT.INT8 : DT.UINT8;
  return symmetric ? DT.INT4 : DT.UINT4;
}

function raw(values: Int32Array, bits: 8 | 4, symmetric: boolean): Int8Array | Uint8Array {
  if (bits === 4) return packInt4(Int8Array.from(values, (v) => (symmetric ? v : v & 15)));
  return symmetric ? Int8Array.from(values) : Uint8Array.from(values);
}

export function affineEncoding(o: AffineOptions): WeightEncoding {
  return {
    bits: o.bits,
    unsupported(w) {
      if (needsOpset21(o) && w.opset < 21) return `${o.bits}-bit ${typeof o.granularity === "object" ? "blocked " : ""}weights need opset 21 (the model has ${w.opset})`;
      return null;
    },
    encode(w) {
      const grouping = groupingOf(w, o.granularity);
      const q = quantizeAffine(w.data, w.dims, grouping, o.bits, o.symmetric, w.rounding);
      const dtype = storage(o.bits, o.symmetric);
      const qName = w.fresh(`${w.name}_quantized`);
      const sName = w.fresh(`${w.name}_scale`);
      const output = w.fresh(`${w.name}_dequantized`);
      const initializers: TensorProto[] = [makeTensor(qName, dtype, w.dims, raw(q.levels, o.bits, o.symmetric))];
      const nodes: NodeProto[] = [];
      const axis = grouping.kind === "tensor" ? -1 : grouping.axis;
      const zeroPoints = q.zeroPoints ?? new Int32Array(q.scales.length);
      if (w.opset >= 13 || (grouping.kind === "tensor" && w.opset >= 10)) {
        const zName = w.fresh(`${w.name}_zero_point`);
        initializers.push(makeTensor(sName, DT.FLOAT, q.scaleDims, q.scales));
        initializers.push(makeTensor(zName, dtype, q.scaleDims, raw(zeroPoints, o.bits, o.symmetric)));
        const attrs: Record<string, number> =
          grouping.kind === "block" ? { axis, block_size: grouping.block } : grouping.kind === "channel" ? { axis } : {};
        nodes.push(makeNode("DequantizeLinear", [qName, sName, zName], [output], w.fresh(`${w.name}_dequantize`), attrs));
      } else {
        // Opsets 7-12 (8-bit, per tensor or per channel): float(q) [- zero point] x scale, broadcast along the axis.
        const shape = grouping.kind === "tensor" ? [] : broadcastShape(q.scales.length, axis, w.dims.length);
        const asFloat = w.fresh(`${w.name}_int8_as_float`);
        initializers.push(makeTensor(sName, DT.FLOAT, shape, q.scales));
        nodes.push(makeNode("Cast", [qName], [asFloat], w.fresh(`${w.name}_cast`), { to: DT.FLOAT }));
        let centred = asFloat;
        if (q.zeroPoints) {
          const zName = w.fresh(`${w.name}_zero_point`);
          centred = w.fresh(`${w.name}_centred`);
          initializers.push(makeTensor(zName, DT.FLOAT, shape, Float32Array.from(q.zeroPoints)));
          nodes.push(makeNode("Sub", [asFloat, zName], [centred], w.fresh(`${w.name}_subtract_zero_point`)));
        }
        nodes.push(makeNode("Mul", [centred, sName], [output], w.fresh(`${w.name}_rescale`)));
      }
      return { initializers, nodes, output, error: quantizationError(w.data, q.reconstructed), scales: q.scales, axis };
    },
  };
}
