// MaxPool (1-D and 2-D, with pads, strides, dilations and ceil_mode) on the f32_maxpool2d kernel; the Indices output is not covered.
import type { Op } from "../op";
import { Uncovered } from "../values";
import { poolAttributes, poolGeometry, poolInput, poolOutput } from "./pool";

export const maxpool: Op = {
  movesElements: true,
  plan(ctx) {
    if (ctx.node.output[1]) throw new Uncovered("the Indices output is used");
    const attrs = poolAttributes(ctx.node);
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const [B, C, H, W] = poolInput(a.dims, attrs.oneD, "MaxPool");
        const g = poolGeometry(attrs, H, W);
        const y = run.alloc(poolOutput(attrs.oneD, B, C, g));
        run.kx.k.f32_maxpool2d(a.ptr, B * C, H, W, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw, g.OH, g.OW, y.ptr);
        return [y];
      },
    };
  },
};
