// Expand to a shape by bidirectional broadcasting (the output takes the larger of each dim). Folds on constants.
import { remapOp } from "../elementwise";
import type { Op } from "../op";
import { broadcastDims, intInput, offsetsOf, stridesOf } from "../shape";

export const expand: Op = {
  plan(ctx) {
    return remapOp(ctx, [intInput(ctx, 1)], (dims, [shape]) => {
      const out = broadcastDims(dims, shape!);
      const lead = out.length - dims.length;
      const strides = stridesOf(dims);
      return { dims: out, offsets: out.map((n, d) => offsetsOf(n, d < lead || dims[d - lead] === 1 ? 0 : strides[d - lead]!, (i) => i)) };
    });
  },
};
