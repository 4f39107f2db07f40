// 1-D convolutions (Conv, ConvTranspose over [N, C, L]) as one row of their 2-D forms: the weight [A, B, k] read as
// [A, B, 1, k], the input as [N, C, 1, L], each attribute given a leading 1 (or 0 for pads), and the step's
// [N, M, 1, L'] output seen as [N, M, L'], so every 2-D route and kernel serves them. 1-D pooling reads its window
// attributes the same way (pool.ts).
import type { NodeProto } from "onnx-buf";
import { intsAttribute } from "../../../onnx/attributes";
import { Uncovered, type Activation, type Constant, type RunState } from "../values";
import type { Op, OpPlan, PlanContext } from "../op";

/**
 * An op whose weight (input `slot`) is 1-D ([A, B, k]) or 2-D ([A, B, kh, kw]): `plan2d` plans the 2-D form, and a 1-D
 * weight goes through it as one row (`oneD`), its step's output seen as [N, M, L'].
 */
export function rowOrPlane(what: string, slot: number, plan2d: (ctx: PlanContext, w: Constant, oneD: boolean) => OpPlan): Op {
  return {
    plan(ctx) {
      const weight = ctx.constant(slot);
      if (!weight) throw new Uncovered("weight is computed at run time");
      if (weight.dims.length === 3) return squeezed(plan2d(ctx, weightAsRow(weight), true));
      if (weight.dims.length !== 4) throw new Uncovered(`only 1-D and 2-D ${what} are covered (weight dims [${weight.dims}])`);
      return plan2d(ctx, weight, false);
    },
  };
}

/** A 1-D weight [A, B, k] as the one-row 2-D weight [A, B, 1, k]: the same elements, scales and levels (what follows
 * the two channel axes keeps its layout). Values are read through (a lazy constant decodes on first read). */
function weightAsRow(w: Constant): Constant {
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

/**
 * A window's ints attribute in 2-D form (default `plain`, given for 2-D): a 1-D one gets `lead` before its value (1
 * for strides and dilations, 0 for output padding; the height of output_shape, 1).
 */
export function windowInts(node: NodeProto, name: string, plain: number[], oneD: boolean, lead: number): number[] {
  return oneD ? [lead, ...intsAttribute(node, name, plain.slice(1))] : intsAttribute(node, name, plain);
}

/** The pads in 2-D form [top, left, bottom, right]: a 1-D [begin, end] as [0, begin, 0, end]. */
export function windowPads(node: NodeProto, oneD: boolean): number[] {
  if (!oneD) return intsAttribute(node, "pads", [0, 0, 0, 0]);
  const [begin, end] = intsAttribute(node, "pads", [0, 0]);
  return [0, begin!, 0, end!];
}

/** The input [N, C, L] read as [N, C, 1, L]. */
export function inputAsRow(input: (run: RunState) => Activation, op: string): (run: RunState) => Activation {
  return (run) => {
    const x = input(run);
    if (x.dims.length !== 3) throw new RangeError(`${op} input dims [${x.dims}] are not [N, C, L]`);
    return { dims: [x.dims[0]!, x.dims[1]!, 1, x.dims[2]!], ptr: x.ptr };
  };
}

/** A 2-D plan's step seen from the 1-D op: its output [N, M, 1, L'] is the [N, M, L'] one. */
function squeezed(plan: OpPlan): OpPlan {
  if (plan.kind !== "step") return plan;
  return { ...plan, run: (run) => plan.run(run).map((y) => ({ dims: [y.dims[0]!, y.dims[1]!, y.dims[3]!], ptr: y.ptr })) };
}
