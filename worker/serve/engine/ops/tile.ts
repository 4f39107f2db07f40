// Tile: each dim repeated `repeats` times. Folds on constants.
import { remapOp } from "../elementwise";
import type { Op } from "../op";
import { intInput, offsetsOf, stridesOf } from "../shape";

export const tile: Op = {
  plan(ctx) {
    return remapOp(ctx, [intInput(ctx, 1)], (dims, [repeats]) => {
      if (repeats!.length !== dims.length) throw new RangeError(`Tile repeats [${repeats}] do not match dims [${dims}]`);
      const strides = stridesOf(dims);
      const out = dims.map((d, i) => d * repeats![i]!);
      return { dims: out, offsets: out.map((n, d) => offsetsOf(n, strides[d]!, (i) => i % dims[d]!)) };
    });
  },
};
