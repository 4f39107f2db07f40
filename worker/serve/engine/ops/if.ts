// If, once branches.ts has opened it up: its inputs are the condition, then the then branch's outputs and the else
// branch's; it hands on the outputs of the branch the folded condition takes (a condition computed at run time is
// Uncovered, and planning has already said so at the branch's first node).
import type { Op } from "../op";
import { conditionOf } from "../branches";
import { Uncovered } from "../values";

export const ifOp: Op = {
  plan(ctx) {
    const c = ctx.constant(0);
    if (!c) throw new Uncovered(`its condition '${ctx.node.input[0]}' is computed at run time`);
    const count = ctx.node.output.length;
    if (ctx.node.input.length !== 1 + 2 * count) throw new Uncovered("its branches were not opened up");
    const first = conditionOf(c, ctx.node.name) ? 1 : 1 + count;
    const picked = Array.from({ length: count }, (_, k) => first + k);
    const constants = picked.map((i) => ctx.constant(i));
    if (constants.every((k) => k !== undefined)) return { kind: "constant", outputs: constants.map((k) => k!) };
    const inputs = picked.map((i) => ctx.input(i));
    return { kind: "step", run: (run) => inputs.map((x) => x(run)) };
  },
};
