// ArgMax and ArgMin: the index of the largest (smallest) element along `axis`, the first of equals unless
// select_last_index; keepdims keeps the axis as 1. Int64 indices (carried as float32 at run time, exact up to 2^24);
// folds on constants.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { aroundAxis, normalizeAxis } from "../shape";

function argExtreme(src: ArrayLike<number>, dims: readonly number[], axis: number, max: boolean, last: boolean): Float64Array {
  const { outer, len, inner } = aroundAxis(dims, axis);
  if (len === 0) throw new RangeError(`Arg${max ? "Max" : "Min"} over an empty axis ${axis} of dims [${dims}]`);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = src[o * len * inner + i]!;
      let at = 0;
      for (let t = 1; t < len; t++) {
        const v = src[(o * len + t) * inner + i]!;
        if (max ? v > best || (last && v === best) : v < best || (last && v === best)) {
          best = v;
          at = t;
        }
      }
      out[o * inner + i] = at;
    }
  }
  return out;
}

export function argOp(max: boolean): Op {
  return {
    plan(ctx) {
      const axisAttr = intAttribute(ctx.node, "axis", 0);
      const keep = intAttribute(ctx.node, "keepdims", 1) !== 0;
      const last = intAttribute(ctx.node, "select_last_index", 0) !== 0;
      const outDims = (dims: readonly number[], axis: number) => (keep ? dims.map((d, i) => (i === axis ? 1 : d)) : dims.filter((_, i) => i !== axis));
      const c = ctx.constant(0);
      if (c) {
        const axis = normalizeAxis(axisAttr, c.dims.length);
        return { kind: "constant", outputs: [constantOf(DT.INT64, outDims(c.dims, axis), argExtreme(numbersOf(c), c.dims, axis, max, last))] };
      }
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          const axis = normalizeAxis(axisAttr, a.dims.length);
          const y = run.alloc(outDims(a.dims, axis));
          run.view(y).set(argExtreme(run.view(a), a.dims, axis, max, last));
          return [y];
        },
      };
    },
  };
}
