// Relu: fused into the preceding linear or elementwise op when it follows one alone, else a clamp in the kernels.
import type { Op } from "../op";
import { sizeOf } from "../values";

export const relu: Op = {
  plan(ctx) {
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const y = run.alloc([...a.dims]);
        run.kx.k.f32_clamp(sizeOf(a.dims), a.ptr, 0, Infinity, y.ptr);
        return [y];
      },
    };
  },
};
