// GatherElements along `axis`: out[i] = data[i with its axis index replaced by indices[i]] (negative indices count from
// the end); the output has the indices' dims. Folds on constants keeping the data's type; at run time indices arrive
// as float32 values.
import { intAttribute } from "../../../onnx/attributes";
import { elementsLike, elementsOf } from "../elementwise";
import type { Op } from "../op";
import { normalizeAxis, stridesOf, type Elements } from "../shape";
import { numbersOf } from "../elementwise";

function gatherElements(data: Elements, dims: readonly number[], indices: ArrayLike<number>, indexDims: readonly number[], axisAttr: number, out: Elements): void {
  const rank = dims.length;
  if (indexDims.length !== rank) throw new RangeError(`GatherElements indices of rank ${indexDims.length} for data of rank ${rank}`);
  const axis = normalizeAxis(axisAttr, rank);
  const strides = stridesOf(dims);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    let at = 0;
    for (let d = 0; d < rank; d++) {
      let v = idx[d]!;
      if (d === axis) {
        v = Math.round(Number(indices[i]!));
        if (v < 0) v += dims[axis]!;
        if (v < 0 || v >= dims[axis]!) throw new RangeError(`GatherElements index ${indices[i]} is out of range for dim ${dims[axis]}`);
      } else if (v >= dims[d]!) throw new RangeError(`GatherElements indices dims [${indexDims}] exceed data dims [${dims}]`);
      at += v * strides[d]!;
    }
    (out as Float32Array)[i] = (data as Float32Array)[at]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < indexDims[d]!) break;
      idx[d] = 0;
    }
  }
}

export const gatherelements: Op = {
  plan(ctx) {
    const axis = intAttribute(ctx.node, "axis", 0);
    const data = ctx.constant(0);
    const indices = ctx.constant(1);
    if (data && indices) {
      const out = elementsLike(data, indices.data.length);
      gatherElements(elementsOf(data), data.dims, numbersOf(indices), indices.dims, axis, out);
      return { kind: "constant", outputs: [{ dims: [...indices.dims], dtype: data.dtype, data: out as Float32Array }] };
    }
    const [x, i] = [ctx.input(0), ctx.input(1)];
    return {
      kind: "step",
      run(run) {
        const [a, k] = [x(run), i(run)];
        const y = run.alloc([...k.dims]);
        gatherElements(run.view(a), a.dims, run.view(k), k.dims, axis, run.view(y));
        return [y];
      },
    };
  },
};
