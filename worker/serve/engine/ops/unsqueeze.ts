// Unsqueeze: inserts 1s at `axes` (an attribute before opset 13, an input from 13; negative counts from the output's
// end). A view; constants keep their element type.
import { intsAttribute } from "../../../onnx/attributes";
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis } from "../shape";
import { Uncovered } from "../values";

export function unsqueezeDims(dims: readonly number[], axes: readonly number[]): number[] {
  const rank = dims.length + axes.length;
  const at = new Set(axes.map((a) => normalizeAxis(a, rank)));
  if (at.size !== axes.length) throw new RangeError(`Unsqueeze axes [${axes}] repeat`);
  const out: number[] = [];
  let k = 0;
  for (let d = 0; d < rank; d++) out.push(at.has(d) ? 1 : dims[k++]!);
  return out;
}

export const unsqueeze: Op = {
  movesElements: true,
  plan(ctx) {
    const axes = ctx.opset < 13 ? intsAttribute(ctx.node, "axes", []) : intInput(ctx, 1).known;
    if (!axes) throw new Uncovered("axes are computed at run time");
    return viewOp((dims) => unsqueezeDims(dims, axes)).plan(ctx);
  },
};
