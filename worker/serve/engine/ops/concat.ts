// Concat along `axis` (inputs may be constants); folds when every input is constant, keeping int64 shapes int64.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { elementsLike, elementsOf } from "../elementwise";
import type { Op } from "../op";
import { normalizeAxis } from "../shape";
import { floatData, type Constant } from "../values";

function concatDims(all: readonly (readonly number[])[], axisAttr: number) {
  const rank = all[0]!.length;
  const axis = normalizeAxis(axisAttr, rank);
  const dims = [...all[0]!];
  dims[axis] = all.reduce((s, d) => s + d[axis]!, 0);
  for (const d of all) {
    if (d.length !== rank || d.some((v, i) => i !== axis && v !== dims[i])) {
      throw new RangeError(`Concat inputs [${all.map((v) => `[${v}]`).join(", ")}] differ off axis ${axis}`);
    }
  }
  return { axis, dims };
}

/** Folds constants: typed copies when all share one kind of array (int64 stays bigint), else float32. */
function foldConcat(cs: Constant[], axisAttr: number): Constant {
  const { axis, dims } = concatDims(cs.map((c) => c.dims), axisAttr);
  const same = cs.every((c) => !c.quant && c.data.constructor === cs[0]!.data.constructor);
  const n = dims.reduce((p, d) => p * d, 1);
  const out = same ? elementsLike(cs[0]!, n) : new Float32Array(n);
  const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const rowOut = dims.slice(axis).reduce((p, d) => p * d, 1);
  let offset = 0;
  for (const c of cs) {
    const src = (same ? elementsOf(c) : floatData(c)) as Float32Array;
    const row = c.dims.slice(axis).reduce((p, d) => p * d, 1);
    for (let o = 0; o < outer; o++) (out as Float32Array).set(src.subarray(o * row, (o + 1) * row), o * rowOut + offset);
    offset += row;
  }
  return { dims, dtype: same ? cs[0]!.dtype : DT.FLOAT, data: out };
}

export const concat: Op = {
  plan(ctx) {
    const axisAttr = intAttribute(ctx.node, "axis", 0);
    const cs = ctx.node.input.map((_, i) => ctx.constant(i));
    if (cs.every((c) => c)) return { kind: "constant", outputs: [foldConcat(cs as Constant[], axisAttr)] };
    const parts = ctx.node.input.map((_, i) => ctx.input(i));
    return {
      kind: "step",
      run(run) {
        const xs = parts.map((p) => p(run));
        const { axis, dims } = concatDims(xs.map((x) => x.dims), axisAttr);
        const y = run.alloc(dims);
        const dst = run.view(y);
        const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
        const rowOut = dims.slice(axis).reduce((p, d) => p * d, 1);
        let offset = 0;
        for (const x of xs) {
          const src = run.view(x);
          const row = x.dims.slice(axis).reduce((p, d) => p * d, 1);
          for (let o = 0; o < outer; o++) dst.set(src.subarray(o * row, (o + 1) * row), o * rowOut + offset);
          offset += row;
        }
        return [y];
      },
    };
  },
};
