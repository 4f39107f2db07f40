// Shape (with start/end from opset 15): an int64 constant for the shapes the plan is specialised to (ctx.dims);
// where the dims are unknown at plan time, a run-time step writing them as float32 values.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import type { Op } from "../op";
import { planDims } from "../shape";

function range(rank: number, start: number, end: number | undefined): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [clamp(start), clamp(end ?? rank)];
}

export const shape: Op = {
  plan(ctx) {
    const start = intAttribute(ctx.node, "start", 0);
    const endAttr = ctx.node.attribute.some((a) => a.name === "end") ? intAttribute(ctx.node, "end", 0) : undefined;
    const known = planDims(ctx, 0);
    if (known) {
      const [s, e] = range(known.length, start, endAttr);
      const dims = known.slice(s, Math.max(s, e));
      return { kind: "constant", outputs: [{ dims: [dims.length], dtype: DT.INT64, data: BigInt64Array.from(dims, (d) => BigInt(d)) }] };
    }
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const [s, e] = range(a.dims.length, start, endAttr);
        const dims = a.dims.slice(s, Math.max(s, e));
        const y = run.alloc([dims.length]);
        run.view(y).set(dims);
        return [y];
      },
    };
  },
};
