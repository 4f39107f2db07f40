// Shape (with start/end from opset 15): an int64 constant for the shapes the plan is specialised to.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import type { Op } from "../op";
import { Uncovered } from "../values";

export const shape: Op = {
  plan(ctx) {
    const dims = ctx.dims(0);
    if (!dims) throw new Uncovered("the input's dims are not known at plan time");
    const rank = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(intAttribute(ctx.node, "start", 0));
    const end = clamp(intAttribute(ctx.node, "end", rank));
    const kept = dims.slice(start, Math.max(start, end));
    return { kind: "constant", outputs: [{ dims: [kept.length], dtype: DT.INT64, data: BigInt64Array.from(kept, BigInt) }] };
  },
};
