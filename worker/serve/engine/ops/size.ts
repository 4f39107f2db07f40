// Size: the element count of its input as an int64 scalar, a constant for the shapes the plan is specialised to
// (shape arithmetic, as Shape), else a run-time step.
import { DT } from "../../../onnx/dtype";
import type { Op } from "../op";
import { planDims } from "../shape";
import { sizeOf } from "../values";

export const size: Op = {
  plan(ctx) {
    const known = planDims(ctx, 0);
    if (known) return { kind: "constant", outputs: [{ dims: [], dtype: DT.INT64, data: BigInt64Array.from([BigInt(sizeOf(known))]) }] };
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const y = run.alloc([]);
        run.view(y)[0] = sizeOf(x(run).dims);
        return [y];
      },
    };
  },
};
