// Dropout at inference: the identity; a mask output that is named (torch's exporter names it in Swin's attention) is
// all true. Training mode is covered only where the ratio is a constant 0, where it drops nothing either.
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";

const pass = viewOp((dims) => [...dims]);

export const dropout: Op = {
  plan(ctx) {
    // Training mode drops nothing at ratio 0 (torchvision's Swin exports its attention dropout so).
    const ratio = ctx.has(1) ? ctx.constant(1) : undefined;
    const dropsNothing = ratio !== undefined && floatData(ratio)[0] === 0;
    if (ctx.has(2) && !dropsNothing) {
      const training = ctx.constant(2);
      if (!training || floatData(training)[0] !== 0) throw new Uncovered("training_mode may be true with a ratio above 0");
    }
    if (!ctx.node.output[1]) return pass.plan(ctx);
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const y = run.alloc([...a.dims]);
        run.view(y).set(run.view(a));
        const mask = run.alloc([...a.dims]);
        run.view(mask).fill(1); // run-time bools are float 1/0
        return [y, mask];
      },
    };
  },
};
