// Slice by starts/ends/axes/steps (attributes before opset 10, inputs from 10): negative indices count from the end,
// bounds clamp as ONNX says (INT64_MAX ends included), negative steps walk backwards. Folds on constants.
import { intsAttribute } from "../../../onnx/attributes";
import { remapOp } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis, offsetsOf, stridesOf, type IntInput } from "../shape";

const fixed = (known: number[]): IntInput => ({ known, read: () => known });

export function sliceLayout(dims: readonly number[], starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined) {
  const begin = dims.map(() => 0);
  const step = dims.map(() => 1);
  const count = [...dims];
  (axes ?? starts.map((_, i) => i)).forEach((a, i) => {
    const d = normalizeAxis(a, dims.length);
    const size = dims[d]!;
    const s = steps?.[i] ?? 1;
    if (s === 0) throw new RangeError("Slice step is 0");
    let lo = starts[i]!;
    let hi = ends[i]!;
    if (lo < 0) lo += size;
    if (hi < 0) hi += size;
    if (s > 0) {
      lo = Math.min(Math.max(lo, 0), size);
      hi = Math.min(Math.max(hi, 0), size);
    } else {
      lo = Math.min(Math.max(lo, 0), size - 1);
      hi = Math.min(Math.max(hi, -1), size - 1);
    }
    begin[d] = lo;
    step[d] = s;
    count[d] = Math.max(0, Math.ceil((hi - lo) / s));
  });
  const strides = stridesOf(dims);
  return { dims: count, offsets: count.map((n, d) => offsetsOf(n, strides[d]!, (i) => begin[d]! + i * step[d]!)) };
}

export const slice: Op = {
  plan(ctx) {
    const legacy = ctx.opset < 10;
    const params = legacy
      ? [fixed(intsAttribute(ctx.node, "starts", [])), fixed(intsAttribute(ctx.node, "ends", []))]
      : [intInput(ctx, 1), intInput(ctx, 2)];
    const hasAxes = legacy ? ctx.node.attribute.some((a) => a.name === "axes") : ctx.has(3);
    if (hasAxes) params.push(legacy ? fixed(intsAttribute(ctx.node, "axes", [])) : intInput(ctx, 3));
    const hasSteps = !legacy && ctx.has(4);
    if (hasSteps) params.push(intInput(ctx, 4));
    return remapOp(ctx, params, (dims, v) => sliceLayout(dims, v[0]!, v[1]!, hasAxes ? v[2] : undefined, hasSteps ? v[hasAxes ? 3 : 2] : undefined));
  },
};
