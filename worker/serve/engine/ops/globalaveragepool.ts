// GlobalAveragePool: the mean over every spatial dim, keeping them as 1s (each plane summed by the kernel in float32).
import type { Op } from "../op";

export const globalaveragepool: Op = {
  plan(ctx) {
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        if (a.dims.length < 3) throw new RangeError(`GlobalAveragePool needs [N, C, ...], got [${a.dims}]`);
        const [B, C] = a.dims as [number, number];
        const spatial = a.dims.slice(2).reduce((p, d) => p * d, 1);
        const y = run.alloc([B, C, ...a.dims.slice(2).map(() => 1)]);
        run.kx.k.f32_rows_sum(B * C, spatial, a.ptr, spatial, y.ptr);
        return [y];
      },
    };
  },
};
