// 1-bit encoding: w ~ sign(w) * mean|w| per output channel (sign(0) = +1). Opset 25 (models lifted to it, see
// opset25.ts): INT2 {-1, +1}, four per byte, behind a per-axis DequantizeLinear whose scales are the channel means
// (1/16 of the float bytes); a 13-24 model that cannot be lifted: the same as int8; older opsets: the float weight
// holding exactly +-scale per channel (the training script's export form). The kernel engine reads all three as 1-bit.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { channelLayout, makeTensor } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { int2Dequantize } from "./int2";
import { INT2_OPSET } from "./opset25";
import { quantizationError } from "./weights";
import type { LevelRounding } from "./affine";

export function binarize(data: Float32Array, dims: readonly number[], axis: number) {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const sums = new Float64Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < inner; i++) sums[c] = sums[c]! + Math.abs(data[(o * channels + c) * inner + i]!);
  const scales = Float32Array.from(sums, (s) => s / (outer * inner));
  const signs = new Int8Array(data.length);
  const reconstructed = new Float32Array(data.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < inner; i++) {
        const k = (o * channels + c) * inner + i;
        signs[k] = data[k]! >= 0 ? 1 : -1;
        reconstructed[k] = signs[k]! * scales[c]!;
      }
  return { signs, scales, reconstructed, channels };
}

/** The sign grid of binarize (scale mean|w| per output channel) with each sign chosen by `rounding`. */
function binarizeOnGrid(data: Float32Array, dims: readonly number[], axis: number, rounding: LevelRounding) {
  const plain = binarize(data, dims, axis);
  const { outer, channels, inner } = channelLayout(dims, axis);
  const index = new Int32Array(data.length);
  for (let o = 0, k = 0; o < outer; o++) for (let c = 0; c < channels; c++) for (let i = 0; i < inner; i++) index[k++] = c;
  const rounded = rounding(data, { index, scales: plain.scales, zeroPoints: null, scaleDims: [channels], qmin: -1, qmax: 1, signOnly: true });
  const signs = Int8Array.from(rounded.levels);
  const reconstructed = Float32Array.from(signs, (v, k) => v * rounded.scales[index[k]!]!);
  return { signs, scales: rounded.scales, reconstructed, channels };
}

export const binary: WeightEncoding = {
  bits: 1,
  unsupported: () => null,
  encode(w) {
    const axis = w.slot.outAxis;
    const b = w.rounding ? binarizeOnGrid(w.data, w.dims, axis, w.rounding) : binarize(w.data, w.dims, axis);
    if (w.opset < 13) {
      const name = w.fresh(`${w.name}_binary`);
      // A float initializer needs no node: Identity keeps the "replacement tensor" shape of the other encodings.
      const output = w.fresh(`${w.name}_binarized`);
      return {
        initializers: [makeTensor(name, DT.FLOAT, w.dims, b.reconstructed)],
        nodes: [makeNode("Identity", [name], [output], w.fresh(`${w.name}_identity`))],
        output, error: quantizationError(w.data, b.reconstructed), scales: b.scales, axis,
      };
    }
    const qName = w.fresh(`${w.name}_signs`);
    const sName = w.fresh(`${w.name}_scale`);
    const output = w.fresh(`${w.name}_dequantized`);
    if (w.opset >= INT2_OPSET) {
      const { initializers, nodes } = int2Dequantize(
        { levels: b.signs, dims: w.dims, scales: b.scales, scaleDims: [b.channels], axis, blockSize: 0 },
        { levels: qName, scale: sName, node: w.fresh(`${w.name}_dequantize`), output },
      );
      return { initializers, nodes, output, error: quantizationError(w.data, b.reconstructed), scales: b.scales, axis };
    }
    return {
      initializers: [makeTensor(qName, DT.INT8, w.dims, b.signs), makeTensor(sName, DT.FLOAT, [b.channels], b.scales)],
      nodes: [makeNode("DequantizeLinear", [qName, sName], [output], w.fresh(`${w.name}_dequantize`), { axis })],
      output, error: quantizationError(w.data, b.reconstructed), scales: b.scales, axis,
    };
  },
};
