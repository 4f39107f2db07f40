// Concat along `axis` (inputs may be constants).
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { normalizeAxis } from "../shape";

export const concat: Op = {
  plan(ctx) {
    const axisAttr = intAttribute(ctx.node, "axis", 0);
    const parts = ctx.node.input.map((_, i) => ctx.input(i));
    return {
      kind: "step",
      run(run) {
        const xs = parts.map((p) => p(run));
        const rank = xs[0]!.dims.length;
        const axis = normalizeAxis(axisAttr, rank);
        const dims = [...xs[0]!.dims];
        dims[axis] = xs.reduce((s, x) => s + x.dims[axis]!, 0);
        for (const x of xs) {
          if (x.dims.length !== rank || x.dims.some((d, i) => i !== axis && d !== dims[i])) {
            throw new RangeError(`Concat inputs [${xs.map((v) => `[${v.dims}]`).join(", ")}] differ off axis ${axis}`);
          }
        }
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
