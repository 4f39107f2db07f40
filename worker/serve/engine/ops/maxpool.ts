// MaxPool (2-D, with pads, strides, dilations and ceil_mode) on the f32_maxpool2d kernel; the Indices output is not covered.
import type { Op } from "../op";
import { Uncovered } from "../values";
import { poolAttributes, poolGeometry } from "./pool";

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
        if (a.dims.length !== 4) throw new RangeError(`MaxPool needs NCHW input, got [${a.dims}]`);
        const [B, C, H, W] = a.dims as [number, number, number, number];
        const g = poolGeometry(attrs, H, W);
        const y = run.alloc([B, C, g.OH, g.OW]);
        run.kx.k.f32_maxpool2d(a.ptr, B * C, H, W, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw, g.OH, g.OW, y.ptr);
        return [y];
      },
    };
  },
};
