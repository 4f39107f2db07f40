// Reshape to a constant shape (0 copies a dim unless allowzero, -1 takes what is left).
import { intAttribute } from "../../../onnx/attributes";
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { intData, Uncovered } from "../values";

export function reshapeDims(dims: readonly number[], shape: readonly number[], allowZero: boolean): number[] {
  const total = dims.reduce((p, d) => p * d, 1);
  const out = shape.map((s, i) => (s === 0 && !allowZero ? dims[i]! : s));
  const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const inferred = out.indexOf(-1);
  if (inferred >= 0) out[inferred] = known === 0 ? 0 : total / known;
  if (out.reduce((p, d) => p * d, 1) !== total || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(`cannot reshape [${dims}] to [${shape}]`);
  }
  return out;
}

export const reshape: Op = {
  movesElements: true,
  plan(ctx) {
    const shape = ctx.constant(1);
    if (!shape) throw new Uncovered("the shape is computed at run time");
    const target = intData(shape);
    const allowZero = intAttribute(ctx.node, "allowzero", 0) === 1;
    return viewOp((dims) => reshapeDims(dims, target, allowZero)).plan(ctx);
  },
};
