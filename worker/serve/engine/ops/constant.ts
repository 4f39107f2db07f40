// Constant: its value (tensor, float(s) or int(s) attribute) becomes a load-time constant.
import { DT } from "../../../onnx/dtype";
import type { Op } from "../op";
import { readConstant, Uncovered } from "../values";

export const constant: Op = {
  plan(ctx) {
    const a = ctx.node.attribute[0];
    if (!a || ctx.node.attribute.length !== 1) throw new Uncovered("Constant needs exactly one value attribute");
    switch (a.name) {
      case "value":
        if (!a.t) throw new Uncovered("Constant value has no tensor");
        return { kind: "constant", outputs: [readConstant(a.t)] };
      case "value_float":
        return { kind: "constant", outputs: [{ dims: [], dtype: DT.FLOAT, data: Float32Array.of(a.f) }] };
      case "value_floats":
        return { kind: "constant", outputs: [{ dims: [a.floats.length], dtype: DT.FLOAT, data: Float32Array.from(a.floats) }] };
      case "value_int":
        return { kind: "constant", outputs: [{ dims: [], dtype: DT.INT64, data: BigInt64Array.of(a.i) }] };
      case "value_ints":
        return { kind: "constant", outputs: [{ dims: [a.ints.length], dtype: DT.INT64, data: BigInt64Array.from(a.ints) }] };
      default:
        throw new Uncovered(`Constant attribute ${a.name}`);
    }
  },
};
