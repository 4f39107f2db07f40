// Softmax and LogSoftmax: along `axis` (opset >= 13, default -1), or over the 2-D coercion at `axis` (opset < 13,
// default 1); any axis: contiguous rows in the kernels, strided ones (an axis that is not the last) here.
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { aroundAxis, normalizeAxis, spanOf } from "../shape";

/** [outer, len, inner] of a Softmax-family op: around `axis`, or (before opset 13) rows of the 2-D coercion there. */
export function softmaxRuns(dims: readonly number[], axisAttr: number, legacy: boolean): { outer: number; len: number; inner: number } {
  const axis = normalizeAxis(axisAttr, dims.length);
  return legacy ? { outer: spanOf(dims, 0, axis), len: spanOf(dims, axis), inner: 1 } : aroundAxis(dims, axis);
}

/**
 * Softmax, or with `log` LogSoftmax (x - max - log(sum exp(x - max)), finite far below a row's max where log(Softmax)
 * is not): contiguous rows on the kernels (LogSoftmax as the shifted rows and their exp sums, then -log per row added
 * as a shift), strided ones here.
 */
export function softmaxOp(log: boolean): Op {
  return {
    plan(ctx) {
      const legacy = ctx.opset < 13;
      const axisAttr = intAttribute(ctx.node, "axis", legacy ? 1 : -1);
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          const { outer, len, inner } = softmaxRuns(a.dims, axisAttr, legacy);
          const y = run.alloc([...a.dims]);
          if (inner === 1) {
            // Contiguous rows (the last axis, or any legacy coercion): the kernels.
            if (!log) {
              run.kx.k.f32_softmax_rows(outer, len, a.ptr, y.ptr);
              return [y];
            }
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
              for (let j = base; j < end; j += inner) if (src[j]! > max || (log && Number.isNaN(src[j]!))) max = src[j]!;
              let sum = 0;
              if (log) {
                for (let j = base; j < end; j += inner) sum += Math.exp(src[j]! - max);
                const shift = max + Math.log(sum);
                for (let j = base; j < end; j += inner) dst[j] = src[j]! - shift;
                continue;
              }
              // exp once per element (kept in the output), then one multiply by the row's 1 / sum.
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
}

export const softmax = softmaxOp(false);
