// Gather along `axis`: data constant (a table, a shape) or computed, indices constant or computed (run-time indices
// arrive as float32 values and are rounded); negative indices count from the end. Folds when both are constant.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { elementsLike, elementsOf } from "../elementwise";
import type { Op } from "../op";
import { normalizeAxis, offsetsOf, remap, spanOf, type Elements } from "../shape";
import { intData } from "../values";

/** Output dims and remap offsets of data[..., indices, ...] viewed as [outer, count, inner]. */
function gatherLayout(dims: readonly number[], axisAttr: number, indices: readonly number[], indexDims: readonly number[]) {
  const axis = normalizeAxis(axisAttr, dims.length);
  const size = dims[axis]!;
  const inner = spanOf(dims, axis + 1);
  const rows = offsetsOf(indices.length, inner, (i) => {
    const v = indices[i]! < 0 ? indices[i]! + size : indices[i]!;
    if (v < 0 || v >= size) throw new RangeError(`Gather index ${indices[i]} is out of range for dim ${size}`);
    return v;
  });
  const flat = [spanOf(dims, 0, axis), indices.length, inner];
  const offsets = [offsetsOf(flat[0]!, size * inner, (i) => i), rows, offsetsOf(inner, 1, (i) => i)];
  return { dims: [...dims.slice(0, axis), ...indexDims, ...dims.slice(axis + 1)], flat, offsets };
}

export const gather: Op = {
  plan(ctx) {
    const axis = intAttribute(ctx.node, "axis", 0);
    const data = ctx.constant(0);
    const idx = ctx.constant(1);
    if (data && idx) {
      const g = gatherLayout(data.dims, axis, intData(idx), idx.dims);
      const out = elementsLike(data, spanOf(g.dims));
      remap(elementsOf(data), out, g.flat, g.offsets, out instanceof BigInt64Array ? 0n : 0);
      return { kind: "constant", outputs: [{ dims: g.dims, dtype: data.quant ? DT.FLOAT : data.dtype, data: out }] };
    }
    const x = ctx.input(0);
    const ix = idx ? undefined : ctx.input(1);
    const fixed = idx ? { values: intData(idx), dims: idx.dims } : undefined;
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        let indices = fixed;
        if (!indices) {
          const i = ix!(run);
          indices = { values: Array.from(run.view(i), Math.round), dims: i.dims };
        }
        const g = gatherLayout(a.dims, axis, indices.values, indices.dims);
        const y = run.alloc(g.dims);
        remap(run.view(a) as Elements, run.view(y), g.flat, g.offsets);
        return [y];
      },
    };
  },
};
