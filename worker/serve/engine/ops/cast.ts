// Cast: folded at load on constants (fp16 or int8 weights to float, shapes to int64); at run time only float to float.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, intData, Uncovered } from "../values";

export const cast: Op = {
  plan(ctx) {
    const to = intAttribute(ctx.node, "to", 0);
    const c = ctx.constant(0);
    if (c) {
      if (to === DT.FLOAT) return { kind: "constant", outputs: [{ dims: c.dims, dtype: DT.FLOAT, data: floatData(c) }] };
      if (to === DT.INT64) return { kind: "constant", outputs: [{ dims: c.dims, dtype: DT.INT64, data: BigInt64Array.from(intData(c).map((v) => BigInt(Math.trunc(v)))) }] };
      throw new Uncovered(`cast of a constant to type ${to}`);
    }
    if (to !== DT.FLOAT) throw new Uncovered(`run-time cast to type ${to}`);
    return viewOp((dims) => [...dims]).plan(ctx);
  },
};
