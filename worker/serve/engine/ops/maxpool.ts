// MaxPool (2-D, with pads, strides, dilations and ceil_mode; the Indices output is not covered).
import type { Op } from "../op";
import { Uncovered } from "../values";
import { poolAttributes, poolGeometry } from "./pool";

export const maxpool: Op = {
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
        const src = run.view(a);
        const dst = run.view(y);
        for (let bc = 0; bc < B * C; bc++) {
          const plane = bc * H * W;
          for (let oy = 0; oy < g.OH; oy++) {
            for (let ox = 0; ox < g.OW; ox++) {
              let m = -Infinity;
              for (let ky = 0; ky < g.kh; ky++) {
                const iy = oy * g.sh - g.pt + ky * g.dh;
                if (iy < 0 || iy >= H) continue;
                for (let kx = 0; kx < g.kw; kx++) {
                  const ix = ox * g.sw - g.pl + kx * g.dw;
                  if (ix < 0 || ix >= W) continue;
                  const v = src[plane + iy * W + ix]!;
                  if (v > m) m = v;
                }
              }
              dst[(bc * g.OH + oy) * g.OW + ox] = m;
            }
          }
        }
        return [y];
      },
    };
  },
};
