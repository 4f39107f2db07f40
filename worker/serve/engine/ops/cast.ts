// Cast: folded at load on constants (fp16 or int8 weights to float, shape arithmetic to int64/int32, masks to bool).
// At run time every value is carried as float32 (integers exact below 2^24), so casting to a float type keeps the
// tensor, to an integer type rounds toward zero, and to bool maps non-zero to 1.
import { intAttribute } from "../../../onnx/attributes";
import { DT, dtypeName } from "../../../onnx/dtype";
import { unaryOp, viewOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, Uncovered, type Constant } from "../values";

/** Float to int64 as x86's conversion does it: toward zero, and INT64_MIN where no integer fits (NaN, +-Infinity). */
const toInt64 = (v: number) => (Number.isFinite(v) && Math.abs(v) < 2 ** 63 ? BigInt(Math.trunc(v)) : -(2n ** 63n));

/** The constant cast to `to` (int64 stays exact through BigInt), or null for a type not folded. */
function foldConstant(c: Constant, to: number): Constant | null {
  const dims = c.dims;
  const src = c.data;
  switch (to) {
    case DT.FLOAT:
      return { dims, dtype: DT.FLOAT, data: floatData(c) };
    case DT.DOUBLE:
      return { dims, dtype: DT.DOUBLE, data: Float64Array.from(c.quant ? floatData(c) : (src as ArrayLike<number | bigint>), Number) };
    case DT.INT64:
      if (src instanceof BigInt64Array) return { dims, dtype: DT.INT64, data: src };
      return { dims, dtype: DT.INT64, data: BigInt64Array.from(floatOrInt(c), toInt64) };
    case DT.INT32:
      return { dims, dtype: DT.INT32, data: src instanceof BigInt64Array ? Int32Array.from(src, (v) => Number(BigInt.asIntN(32, v))) : Int32Array.from(floatOrInt(c), Math.trunc) };
    case DT.BOOL:
      return { dims, dtype: DT.BOOL, data: src instanceof BigInt64Array ? Uint8Array.from(src, (v) => (v !== 0n ? 1 : 0)) : Uint8Array.from(floatOrInt(c), (v) => (v !== 0 ? 1 : 0)) };
    default:
      return null;
  }
}

/** A constant's values as numbers (dequantized weights, or the integers as they are). */
function floatOrInt(c: Constant): ArrayLike<number> {
  return c.quant || c.data instanceof BigInt64Array ? floatData(c) : (c.data as ArrayLike<number>);
}

const truncate = unaryOp(Math.trunc);
const toBool = unaryOp((v) => (v !== 0 ? 1 : 0)); // NaN is non-zero: true, as in onnxruntime

export const cast: Op = {
  plan(ctx) {
    const to = intAttribute(ctx.node, "to", 0);
    const c = ctx.constant(0);
    if (c) {
      const folded = foldConstant(c, to);
      if (!folded) throw new Uncovered(`cast of a constant to ${dtypeName(to)}`);
      return { kind: "constant", outputs: [folded] };
    }
    if (to === DT.FLOAT || to === DT.DOUBLE) return viewOp((dims) => [...dims]).plan(ctx);
    if (to === DT.INT64 || to === DT.INT32) return truncate.plan(ctx);
    if (to === DT.BOOL) return toBool.plan(ctx);
    throw new Uncovered(`run-time cast to ${dtypeName(to)}`);
  },
};
