// Dropout at inference: the identity (a used mask output, or training_mode set, is not covered).
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";

const pass = viewOp((dims) => [...dims]);

export const dropout: Op = {
  plan(ctx) {
    if (ctx.node.output[1]) throw new Uncovered("the mask output is used");
    if (ctx.has(2)) {
      const training = ctx.constant(2);
      if (!training || floatData(training)[0] !== 0) throw new Uncovered("training_mode may be true");
    }
    return pass.plan(ctx);
  },
};
