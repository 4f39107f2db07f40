// Softmax: along `axis` (opset >= 13, default -1), or over the 2-D coercion at `axis` (opset < 13, default 1).
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { normalizeAxis } from "../shape";

export const softmax: Op = {
  plan(ctx) {
    const legacy = ctx.opset < 13;
    const axisAttr = intAttribute(ctx.node, "axis", legacy ? 1 : -1);
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const axis = normalizeAxis(axisAttr, a.dims.length);
        const outer = a.dims.slice(0, axis).reduce((p, d) => p * d, 1);
        const [len, inner] = legacy
          ? [a.dims.slice(axis).reduce((p, d) => p * d, 1), 1]
          : [a.dims[axis]!, a.dims.slice(axis + 1).reduce((p, d) => p * d, 1)];
        const y = run.alloc([...a.dims]);
        const src = run.view(a);
        const dst = run.view(y);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const base = o * len * inner + i;
            let max = -Infinity;
            for (let j = 0; j < len; j++) max = Math.max(max, src[base + j * inner]!);
            let sum = 0;
            for (let j = 0; j < len; j++) sum += Math.exp(src[base + j * inner]! - max);
            for (let j = 0; j < len; j++) dst[base + j * inner] = Math.exp(src[base + j * inner]! - max) / sum;
          }
        }
        return [y];
      },
    };
  },
};
