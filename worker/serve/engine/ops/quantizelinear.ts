// QuantizeLinear of a run-time activation onto a static 8-bit grid (one scale and zero point): the levels, carried as
// floats and marked, so a DequantizeLinear of them marks its values as on that grid (see linear.ts's static route).
// Where such a DequantizeLinear alone reads the levels (the QDQ pair before a quantized layer), both run as one pass
// that writes the values on the grid, marked so. Written over its input where nothing reads that after (a map).
import { gridOf } from "../activation-grid";
import { mapStep } from "../elementwise";
import type { Op } from "../op";
import { Uncovered } from "../values";

export const quantizelinear: Op = {
  plan(ctx) {
    if (ctx.constant(0)) throw new Uncovered("QuantizeLinear of a constant is not covered");
    const grid = gridOf(ctx.node, ctx.constant(1), ctx.constant(2), ctx.has(2));
    if (!grid) throw new Uncovered("only a per-tensor scale and uint8/int8 zero point are covered");
    const { scale, zeroPoint, lo, hi } = grid;
    const pair = ctx.absorbDequantize(grid);
    if (pair) {
      return {
        ...mapStep(ctx, (run, a, y) => run.kx.k.f32_quantize_dequantize_linear(run.view(a).length, a.ptr, scale, zeroPoint, lo, hi, y.ptr)),
        outputs: [pair],
        mark: { kind: "grid", grid },
      };
    }
    return {
      ...mapStep(ctx, (run, a, y) => run.kx.k.f32_quantize_linear(run.view(a).length, a.ptr, scale, zeroPoint, lo, hi, y.ptr)),
      mark: { kind: "levels", grid },
    };
  },
};
