// LpNormalization: x divided by its L1 or L2 norm along `axis` (p 2 by default), as embedding heads normalize. In
// float64 per row; folds on constants.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { mapStep, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { aroundAxis, normalizeAxis } from "../shape";

function normalize(src: ArrayLike<number>, dims: readonly number[], axis: number, p: number, dst: Float32Array): void {
  const { outer, len, inner } = aroundAxis(dims, axis);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let norm = 0;
      for (let t = 0; t < len; t++) {
        const v = src[(o * len + t) * inner + i]!;
        norm += p === 1 ? Math.abs(v) : v * v;
      }
      if (p === 2) norm = Math.sqrt(norm);
      for (let t = 0; t < len; t++) {
        const at = (o * len + t) * inner + i;
        dst[at] = norm === 0 ? 0 : src[at]! / norm;
      }
    }
  }
}

export const lpnormalization: Op = {
  plan(ctx) {
    const axisAttr = intAttribute(ctx.node, "axis", -1);
    const p = intAttribute(ctx.node, "p", 2);
    if (p !== 1 && p !== 2) throw new RangeError(`LpNormalization p=${p} (1 or 2)`);
    const c = ctx.constant(0);
    if (c) {
      const data = new Float32Array(c.data.length);
      normalize(numbersOf(c), c.dims, normalizeAxis(axisAttr, c.dims.length), p, data);
      return { kind: "constant", outputs: [{ dims: [...c.dims], dtype: DT.FLOAT, data }] };
    }
    // Each row's norm is taken before any of it is written, so the output may be the input's memory.
    return mapStep(ctx, (run, a, y) => normalize(run.view(a), a.dims, normalizeAxis(axisAttr, a.dims.length), p, run.view(y)));
  },
};
