// Mul with numpy broadcasting; folds at load when both operands are constant. Integer weight levels times a scale
// per channel (Cast + Mul: how weight-only int8 is written before opset 13) stay levels with those scales, so the
// consuming layer packs them for an integer kernel as it does a DequantizeLinear's.
import { binaryKind } from "../elementwise";
import type { Op } from "../op";
import type { Constant } from "../values";
import { quantizedConstant } from "./dequantizelinear";

const general = binaryKind("Mul");

export const mul: Op = {
  plan(ctx) {
    const a = ctx.constant(0);
    const b = ctx.constant(1);
    const scaled = a && b ? (rescaledLevels(a, b) ?? rescaledLevels(b, a)) : null;
    return scaled ? { kind: "constant", outputs: [scaled] } : general.plan(ctx);
  },
};

/**
 * Levels with one scale (`levels.quant`, not blocked) times a float constant that is one value, or one value per
 * index of a single axis of the levels' dims (right-aligned, every other dim 1): the same levels with the product
 * as their scales. Null for any other pair (the general fold then computes the floats).
 */
function rescaledLevels(levels: Constant, scale: Constant): Constant | null {
  const form = levels.quant;
  if (!form || form.scale.length !== 1 || form.blockSize > 0 || scale.quant || !(scale.data instanceof Float32Array)) return null;
  const rank = levels.dims.length;
  if (scale.dims.length > rank) return null;
  const s0 = form.scale[0]!;
  const values = scale.data;
  if (values.length === 1) return quantizedConstant(levels.dims, { ...form, scale: new Float32Array([s0 * values[0]!]) });
  const offset = rank - scale.dims.length;
  const axes = scale.dims.flatMap((d, i) => (d === 1 ? [] : [i + offset]));
  if (axes.length !== 1 || scale.dims[axes[0]! - offset] !== levels.dims[axes[0]!]) return null;
  return quantizedConstant(levels.dims, { ...form, scale: values.map((v) => Math.fround(s0 * v)), axis: axes[0]! });
}
