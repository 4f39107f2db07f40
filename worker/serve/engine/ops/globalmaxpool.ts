// GlobalMaxPool: the max over every spatial dim, keeping them as 1s.
import type { Op } from "../op";
import { reduceKernel, reducedDims } from "./reduce";

export const globalmaxpool: Op = {
  plan(ctx) {
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        if (a.dims.length < 3) throw new RangeError(`GlobalMaxPool needs [N, C, ...], got [${a.dims}]`);
        const axes = a.dims.slice(2).map((_, i) => i + 2);
        const y = run.alloc(reducedDims(a.dims, axes, true));
        run.view(y).set(reduceKernel("Max", run.view(a), a.dims, axes));
        return [y];
      },
    };
  },
};
