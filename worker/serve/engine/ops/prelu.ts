// PRelu: x, or slope * x below 0, the slope broadcast to x. A constant slope per NCHW plane ([C, 1, 1]) or one for
// all runs on the kernels (f32_leaky_rows, a slope per row); any other broadcast, and a run-time slope, in JavaScript.
import { binaryKind, broadcastKernel, rowBroadcast } from "../elementwise";
import type { Op } from "../op";
import { sizeOf } from "../values";

const general = binaryKind("PRelu");

export const prelu: Op = {
  plan(ctx) {
    const slope = ctx.constant(1);
    if (!slope || ctx.constant(0)) return general.plan(ctx);
    const x = ctx.input(0);
    const s = ctx.input(1);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const slopes = s(run);
        const rows = sizeOf(slope.dims) === 1 ? { reps: 1, rows: 1, len: sizeOf(a.dims) } : rowBroadcast(a.dims, slope.dims);
        const y = run.alloc([...a.dims]);
        if (rows && rows.rows === sizeOf(slope.dims)) {
          const step = rows.rows * rows.len * 4;
          for (let r = 0; r < rows.reps; r++) run.kx.k.f32_leaky_rows(rows.rows, rows.len, a.ptr + r * step, slopes.ptr, 0, y.ptr + r * step);
          return [y];
        }
        broadcastKernel("PRelu", run.view(a), a.dims, run.view(slopes), slopes.dims, run.view(y), a.dims);
        return [y];
      },
    };
  },
};
