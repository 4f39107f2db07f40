// 8-bit weight-only encoding: int8 per output channel, symmetric; a per-axis DequantizeLinear (opset 13+) or
// Cast + Mul on older opsets.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { channelLayout, makeTensor } from "../../onnx/tensor";
import { broadcastShape, type WeightEncoding } from "./encoding";
import { quantizationError, quantizeWeightsPerChannel } from "./weights";
import { quantizeAffine, type LevelRounding } from "./affine";

/** The per-channel grid (absmax / 127 per output channel) with levels chosen by `rounding`. */
function roundedPerChannel(data: Float32Array, dims: readonly number[], axis: number, rounding: LevelRounding) {
  const q = quantizeAffine(data, dims, { kind: "channel", axis }, 8, true, rounding);
  return { values: Int8Array.from(q.levels), scales: q.scales, error: quantizationError(data, q.reconstructed) };
}

export const int8: WeightEncoding = {
  bits: 8,
  unsupported: () => null,
  encode(w) {
    const axis = w.slot.outAxis;
    const q = w.rounding ? roundedPerChannel(w.data, w.dims, axis, w.rounding) : quantizeWeightsPerChannel(w.rawData ?? w.data, w.dims, axis, 8);
    const { channels } = channelLayout(w.dims, axis);
    const qName = w.fresh(`${w.name}_quantized`);
    const output = w.fresh(`${w.name}_dequantized`);
    const initializers = [makeTensor(qName, DT.INT8, w.dims, q.values)];
    const nodes = [];
    if (w.opset >= 13) {
      const sName = w.fresh(`${w.name}_scale`);
      const zName = w.fresh(`${w.name}_zero_point`);
      initializers.push(makeTensor(sName, DT.FLOAT, [channels], q.scales));
      initializers.push(makeTensor(zName, DT.INT8, [channels], new Int8Array(channels)));
      nodes.push(makeNode("DequantizeLinear", [qName, sName, zName], [output], w.fresh(`${w.name}_dequantize`), { axis }));
    } else {
      // Older opsets have no per-axis DequantizeLinear: convert int8 to float, then scale per channel.
      const sName = w.fresh(`${w.name}_scale`);
      const floatName = w.fresh(`${w.name}_int8_as_float`);
      initializers.push(makeTensor(sName, DT.FLOAT, broadcastShape(channels, axis, w.dims.length), q.scales));
      nodes.push(makeNode("Cast", [qName], [floatName], w.fresh(`${w.name}_cast`), { to: DT.FLOAT }));
      nodes.push(makeNode("Mul", [floatName, sName], [output], w.fresh(`${w.name}_rescale`)));
    }
    return { initializers, nodes, output, error: q.error, scales: q.scales, axis };
  },
};
