// AveragePool (1-D and 2-D): the divisor counts padding only with count_include_pad (windows past the end padding excluded).
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { Uncovered } from "../values";
import { poolAttributes, poolGeometry, poolInput, poolOutput } from "./pool";

export const averagepool: Op = {
  plan(ctx) {
    const attrs = poolAttributes(ctx.node);
    if (attrs.dilations.some((d) => d !== 1)) throw new Uncovered("dilated average pooling");
    const includePad = intAttribute(ctx.node, "count_include_pad", 0) === 1;
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const [B, C, H, W] = poolInput(a.dims, attrs.oneD, "AveragePool");
        const g = poolGeometry(attrs, H, W);
        const y = run.alloc(poolOutput(attrs.oneD, B, C, g));
        const src = run.view(a);
        const dst = run.view(y);
        for (let bc = 0; bc < B * C; bc++) {
          const plane = bc * H * W;
          for (let oy = 0; oy < g.OH; oy++) {
            const y0 = oy * g.sh - g.pt;
            const y1 = Math.min(y0 + g.kh, H + g.pb);
            for (let ox = 0; ox < g.OW; ox++) {
              const x0 = ox * g.sw - g.pl;
              const x1 = Math.min(x0 + g.kw, W + g.pr);
              let sum = 0;
              for (let iy = Math.max(y0, 0); iy < Math.min(y1, H); iy++)
                for (let ix = Math.max(x0, 0); ix < Math.min(x1, W); ix++) sum += src[plane + iy * W + ix]!;
              const count = includePad
                ? (y1 - y0) * (x1 - x0)
                : (Math.min(y1, H) - Math.max(y0, 0)) * (Math.min(x1, W) - Math.max(x0, 0));
              dst[(bc * g.OH + oy) * g.OW + ox] = sum / count;
            }
          }
        }
        return [y];
      },
    };
  },
};
