// 1-D convolutions (Conv, ConvTranspose over [N, C, L]) as one row of their 2-D forms: the weight [A, B, k] read as
// [A, B, 1, k], the input as [N, C, 1, L], each attribute given a leading 1 (or 0 for pads), and the step's
// [N, M, 1, L'] output seen as [N, M, L'], so every 2-D route and kernel serves them.
import type { Activation, Constant, RunState } from "../values";
import type { OpPlan } from "../op";

/** A 1-D weight [A, B, k] as the one-row 2-D weight [A, B, 1, k]: the same elements, scales and levels (what follows
 * the two channel axes keeps its layout). Values are read through (a lazy constant decodes on first read). */
export function weightAsRow(w: Constant): Constant {
  const dims = [w.dims[0]!, w.dims[1]!, 1, w.dims[2]!];
  return {
    dims,
    dtype: w.dtype,
    get data() {
      return w.data;
    },
    ...(w.quant ? { quant: w.quant } : {}),
    ...(w.shared ? { shared: w.shared } : {}),
  };
}

/** A 1-D attribute in 2-D form: `lead` (1 for strides and dilations, 0 for output padding) before each value; pads
 * [begin, end] become [0, begin, 0, end]. */
export const rowOf = (v: number[], lead: number) => [lead, ...v];
export const rowPads = (pads: number[]) => [0, pads[0]!, 0, pads[1]!];

/** The input [N, C, L] read as [N, C, 1, L]. */
export function inputAsRow(input: (run: RunState) => Activation, op: string): (run: RunState) => Activation {
  return (run) => {
    const x = input(run);
    if (x.dims.length !== 3) throw new RangeError(`${op} input dims [${x.dims}] are not [N, C, L]`);
    return { dims: [x.dims[0]!, x.dims[1]!, 1, x.dims[2]!], ptr: x.ptr };
  };
}

/** A 2-D plan's step seen from the 1-D op: its output [N, M, 1, L'] is the [N, M, L'] one. */
export function squeezed(plan: OpPlan): OpPlan {
  if (plan.kind !== "step") return plan;
  return { ...plan, run: (run) => plan.run(run).map((y) => ({ dims: [y.dims[0]!, y.dims[1]!, y.dims[3]!], ptr: y.ptr })) };
}
