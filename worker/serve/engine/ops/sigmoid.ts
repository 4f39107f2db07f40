// Sigmoid: on the kernels (f32_sigmoid, exp vectorised) at run time; folded in float64 on constants.
import { mapStep, unaryMap } from "../elementwise";
import type { Op } from "../op";
import { sizeOf } from "../values";

const folded = unaryMap("Sigmoid");

export const sigmoid: Op = {
  plan(ctx) {
    if (ctx.constant(0)) return folded.plan(ctx);
    return mapStep(ctx, (run, a, y) => run.kx.k.f32_sigmoid(sizeOf(a.dims), a.ptr, y.ptr));
  },
};
