// LpNormalization: x divided by its L1 or L2 norm along `axis` (p 2 by default), as embedding heads normalize. In
// float64 per row; folds on constants.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { numbersOf } from "../elementwise";
import type { Op } from "../op";
import { normalizeAxis } from "../shape";

function normalize(src: ArrayLike<number>, dims: readonly number[], axis: number, p: number, dst: Float32Array): void {
  const len = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((q, d) => q * d, 1);
  const outer = dims.slice(0, axis).reduce((q, d) => q * d, 1);
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
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const y = run.alloc([...a.dims]);
        normalize(run.view(a), a.dims, normalizeAxis(axisAttr, a.dims.length), p, run.view(y));
        return [y];
      },
    };
  },
};
