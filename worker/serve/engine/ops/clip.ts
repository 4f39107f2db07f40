// Clip: bounds from attributes (opset < 11) or constant inputs; fused into a preceding linear op when possible.
import { unaryOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { floatAttribute } from "../../../onnx/attributes";

export const clip: Op = {
  plan(ctx) {
    let lo = -Infinity;
    let hi = Infinity;
    if (ctx.opset < 11) {
      lo = floatAttribute(ctx.node, "min", -Infinity);
      hi = floatAttribute(ctx.node, "max", Infinity);
    } else {
      for (const [i, set] of [[1, (v: number) => (lo = v)], [2, (v: number) => (hi = v)]] as const) {
        if (!ctx.has(i)) continue;
        const c = ctx.constant(i);
        if (!c) throw new Uncovered(`bound ${i} is computed at run time`);
        set(floatData(c)[0]!);
      }
    }
    return unaryOp((x) => (x < lo ? lo : x > hi ? hi : x)).plan(ctx);
  },
};
