// Relu: fused into the preceding linear or elementwise op when it follows one alone, else a clamp in the kernels.
import { mapStep } from "../elementwise";
import type { Op } from "../op";
import { sizeOf } from "../values";

export const relu: Op = {
  plan: (ctx) => mapStep(ctx, (run, a, y) => run.kx.k.f32_clamp(sizeOf(a.dims), a.ptr, 0, Infinity, y.ptr)),
};
