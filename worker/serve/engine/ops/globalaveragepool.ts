// GlobalAveragePool: the mean over every spatial dim, keeping them as 1s.
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
        const src = run.view(a);
        const dst = run.view(y);
        for (let i = 0; i < B * C; i++) {
          let s = 0;
          for (let j = 0; j < spatial; j++) s += src[i * spatial + j]!;
          dst[i] = s / spatial;
        }
        return [y];
      },
    };
  },
};
