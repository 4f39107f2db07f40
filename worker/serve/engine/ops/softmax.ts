// Softmax: along `axis` (opset >= 13, default -1), or over the 2-D coercion at `axis` (opset < 13, default 1);
// any axis: contiguous rows in the kernels, strided ones (an axis that is not the last) here.
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
        if (inner === 1) {
          // Contiguous rows (the last axis, or any legacy coercion): the kernels' vectorised softmax.
          run.kx.k.f32_softmax_rows(outer, len, a.ptr, y.ptr);
          return [y];
        }
        const src = run.view(a);
        const dst = run.view(y);
        // exp once per element (kept in the output), then one multiply by the row's 1 / sum.
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const base = o * len * inner + i;
            const end = base + len * inner;
            let max = -Infinity;
            for (let j = base; j < end; j += inner) if (src[j]! > max) max = src[j]!;
            let sum = 0;
            for (let j = base; j < end; j += inner) sum += dst[j] = Math.exp(src[j]! - max);
            const inv = 1 / sum;
            for (let j = base; j < end; j += inner) dst[j]! *= inv;
          }
        }
        return [y];
      },
    };
  },
};
