// Clip: bounds from attributes (opset < 11) or constant inputs; fused into a preceding linear or elementwise op when
// possible, else a clamp in the kernels.
import { mapStep } from "../elementwise";
import type { Op } from "../op";
import { floatData, sizeOf, Uncovered } from "../values";
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
    // min(max(x, lo), hi): all max when min > max
    return mapStep(ctx, (run, a, y) => run.kx.k.f32_clamp(sizeOf(a.dims), a.ptr, lo, hi, y.ptr));
  },
};
