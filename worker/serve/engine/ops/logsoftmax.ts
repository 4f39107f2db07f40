// LogSoftmax: x - max - log(sum exp(x - max)) along `axis` (opset >= 13, default -1), or over the 2-D coercion at
// `axis` (opset < 13, default 1); contiguous rows in the kernels (their shifted exp sums, then -log per row as a
// shift), strided ones (an axis that is not the last) here. Finite far below a row's max, where log(Softmax) is not.
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { normalizeAxis } from "../shape";

export const logsoftmax: Op = {
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
          const sums = run.alloc([outer]);
          run.kx.k.f32_shifted_exp_sums(outer, len, a.ptr, y.ptr, sums.ptr);
          const s = run.view(sums);
          for (let r = 0; r < outer; r++) s[r] = -Math.log(s[r]!);
          run.kx.k.f32_rows_affine(outer, len, y.ptr, 0, sums.ptr, -Infinity, Infinity, y.ptr);
          return [y];
        }
        const src = run.view(a);
        const dst = run.view(y);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const base = o * len * inner + i;
            const end = base + len * inner;
            let max = -Infinity;
            for (let j = base; j < end; j += inner) if (src[j]! > max || Number.isNaN(src[j]!)) max = src[j]!;
            let sum = 0;
            for (let j = base; j < end; j += inner) sum += Math.exp(src[j]! - max);
            const shift = max + Math.log(sum);
            for (let j = base; j < end; j += inner) dst[j] = src[j]! - shift;
          }
        }
        return [y];
      },
    };
  },
};
