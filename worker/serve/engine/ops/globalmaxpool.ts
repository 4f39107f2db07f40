// GlobalMaxPool: the max over every spatial dim, keeping them as 1s (each plane by the row-extreme kernel).
import type { Op } from "../op";

export const globalmaxpool: Op = {
  plan(ctx) {
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        if (a.dims.length < 3) throw new RangeError(`GlobalMaxPool needs [N, C, ...], got [${a.dims}]`);
        const [B, C] = a.dims as [number, number];
        const spatial = a.dims.slice(2).reduce((p, d) => p * d, 1);
        if (spatial === 0) throw new RangeError(`GlobalMaxPool over an empty plane: [${a.dims}]`);
        const y = run.alloc([B, C, ...a.dims.slice(2).map(() => 1)]);
        run.kx.k.f32_rows_extreme(B * C, spatial, a.ptr, 0, y.ptr);
        return [y];
      },
    };
  },
};
