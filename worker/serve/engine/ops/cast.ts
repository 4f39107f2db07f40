// Cast: folded at load on constants (fp16 or int8 weights to float, shapes to int64, to int32/bool); at run time to
// float or float16 (no change: float16 values are carried in float32, rounded to half at the graph's outputs), to an
// integer type (toward zero: values stay float32-carried) or to bool (0/1).
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, isInteger, numbersOf, unaryMap, viewOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { integerLevels } from "./dequantizelinear";

export const cast: Op = {
  plan(ctx) {
    const to = intAttribute(ctx.node, "to", 0);
    const c = ctx.constant(0);
    if (c) {
      // A float constant passes as it is: a dequantized weight cast to float16 (a half model's variant) keeps its
      // integer levels for the consuming layer's integer kernel.
      if ((to === DT.FLOAT || to === DT.FLOAT16) && c.dtype === DT.FLOAT) return { kind: "constant", outputs: [c] };
      // int8 weights to float (Cast + Mul: weight-only int8 before opset 13's per-axis DequantizeLinear): kept as
      // levels with a unit scale, which a Mul by per-channel scales turns into a quantized weight (ops/mul.ts).
      if (to === DT.FLOAT && c.dtype === DT.INT8 && c.data instanceof Int8Array) return { kind: "constant", outputs: [integerLevels(c.dims, c.data)] };
      if (to === DT.FLOAT || to === DT.FLOAT16) return { kind: "constant", outputs: [{ dims: c.dims, dtype: DT.FLOAT, data: floatData(c) }] };
      if (to === DT.INT64 && c.data instanceof BigInt64Array) return { kind: "constant", outputs: [{ dims: c.dims, dtype: DT.INT64, data: c.data }] };
      if (to === DT.INT64 || to === DT.INT32 || to === DT.INT8 || to === DT.UINT8 || to === DT.BOOL || to === DT.DOUBLE) {
        return { kind: "constant", outputs: [constantOf(to, c.dims, numbersOf(c))] };
      }
      throw new Uncovered(`cast of a constant to type ${to}`);
    }
    if (to === DT.FLOAT || to === DT.FLOAT16 || to === DT.DOUBLE) return viewOp((dims) => [...dims]).plan(ctx);
    if (isInteger(to)) return unaryMap("Trunc").plan(ctx);
    if (to === DT.BOOL) return unaryMap("Bool").plan(ctx);
    throw new Uncovered(`run-time cast to type ${to}`);
  },
};
