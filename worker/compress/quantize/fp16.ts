// 16-bit encoding: the weight as a FLOAT16 initializer (round to nearest even) and a Cast back to float.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { fromHalf, toHalf } from "../../onnx/encoding";
import { makeTensor } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { quantizationError } from "./weights";

export const fp16: WeightEncoding = {
  bits: 16,
  unsupported: (w) => (w.opset > 0 && w.opset < 6 ? `opset ${w.opset} predates Cast` : null),
  encode(w) {
    const half = Uint16Array.from(w.data, toHalf);
    const hName = w.fresh(`${w.name}_fp16`);
    const output = w.fresh(`${w.name}_as_float`);
    return {
      initializers: [makeTensor(hName, DT.FLOAT16, w.dims, half)],
      nodes: [makeNode("Cast", [hName], [output], w.fresh(`${w.name}_cast`), { to: DT.FLOAT })],
      output,
      error: quantizationError(w.data, Float32Array.from(half, fromHalf)),
      scales: [1],
      axis: -1,
    };
  },
};
