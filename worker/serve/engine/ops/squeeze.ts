// Squeeze: drops the 1s at `axes` (an attribute before opset 13, an optional input from 13), or every 1 without
// axes. A view; constants keep their element type.
import { intsAttribute } from "../../../onnx/attributes";
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis } from "../shape";
import { Uncovered } from "../values";

export const squeeze: Op = {
  movesElements: true,
  plan(ctx) {
    let axes: number[] | undefined = [];
    if (ctx.opset < 13) axes = intsAttribute(ctx.node, "axes", []);
    else if (ctx.has(1)) axes = intInput(ctx, 1).known;
    if (!axes) throw new Uncovered("axes are computed at run time");
    const chosen = axes;
    return viewOp((dims) => {
      const drop = new Set(chosen.map((a) => normalizeAxis(a, dims.length)));
      for (const d of drop) if (dims[d] !== 1) throw new RangeError(`Squeeze axis ${d} of dims [${dims}] is not 1`);
      return dims.filter((d, i) => (drop.size === 0 ? d !== 1 : !drop.has(i)));
    }).plan(ctx);
  },
};
