// Flatten to 2-D at `axis` (default 1).
import { intAttribute } from "../../../onnx/attributes";
import { viewOp } from "../elementwise";
import type { Op } from "../op";
import { checkedAxis } from "../attributes";

export const flatten: Op = {
  movesElements: true,
  plan(ctx) {
    const axis = intAttribute(ctx.node, "axis", 1);
    return viewOp((dims) => {
      const a = checkedAxis("Flatten", axis, dims.length, true);
      const outer = dims.slice(0, a).reduce((p, d) => p * d, 1);
      return [outer, dims.slice(a).reduce((p, d) => p * d, 1)];
    }).plan(ctx);
  },
};
