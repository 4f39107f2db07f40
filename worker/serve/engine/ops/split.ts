// Split along `axis` into the node's outputs: sizes from the `split` attribute (before opset 13) or input (from 13),
// else equal parts (num_outputs from opset 18, the last part smaller). Folds on constants.
import { intAttribute, intsAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { elementsLike, elementsOf } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis, offsetsOf, remap, stridesOf, type Elements } from "../shape";
import { Uncovered } from "../values";

function sizesOf(size: number, parts: number, given: number[] | null, last18: boolean): number[] {
  if (given) {
    if (given.reduce((a, b) => a + b, 0) !== size) throw new RangeError(`Split sizes [${given}] do not add up to ${size}`);
    return given;
  }
  const chunk = last18 ? Math.ceil(size / parts) : size / parts;
  if (!Number.isInteger(chunk)) throw new RangeError(`Split of ${size} into ${parts} equal parts`);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, size - i * chunk)));
}

function parts(dims: readonly number[], axis: number, sizes: number[]) {
  const strides = stridesOf(dims);
  let start = 0;
  return sizes.map((n) => {
    const out = [...dims];
    out[axis] = n;
    const from = start;
    start += n;
    return { dims: out, offsets: out.map((len, d) => offsetsOf(len, strides[d]!, (i) => (d === axis ? from + i : i))) };
  });
}

export const split: Op = {
  plan(ctx) {
    const axisAttr = intAttribute(ctx.node, "axis", 0);
    const count = ctx.node.output.length;
    let given: number[] | null = null;
    if (ctx.opset < 13) {
      const s = intsAttribute(ctx.node, "split", []);
      if (s.length > 0) given = s;
    } else if (ctx.has(1)) {
      const known = intInput(ctx, 1).known;
      if (!known) throw new Uncovered("split sizes are computed at run time");
      given = known;
    }
    const last18 = ctx.opset >= 18 && ctx.node.attribute.some((a) => a.name === "num_outputs");
    const c = ctx.constant(0);
    if (c) {
      const axis = normalizeAxis(axisAttr, c.dims.length);
      const outs = parts(c.dims, axis, sizesOf(c.dims[axis]!, count, given, last18)).map((p) => {
        const data = elementsLike(c, p.dims.reduce((a, b) => a * b, 1));
        remap(elementsOf(c), data, p.dims, p.offsets);
        return { dims: p.dims, dtype: c.quant ? DT.FLOAT : c.dtype, data };
      });
      return { kind: "constant", outputs: outs };
    }
    const x = ctx.input(0);
    return {
      kind: "step",
      outputs: [...ctx.node.output],
      run(run) {
        const a = x(run);
        const axis = normalizeAxis(axisAttr, a.dims.length);
        const ps = parts(a.dims, axis, sizesOf(a.dims[axis]!, count, given, last18));
        const ys = ps.map((p) => run.alloc(p.dims));
        ps.forEach((p, i) => remap(run.view(a) as Elements, run.view(ys[i]!), p.dims, p.offsets));
        return ys;
      },
    };
  },
};
