// Conv(X, W, B): W is [M, C/group, k...]; output channels lie along axis 0.
import type { OperatorQuantizer } from "./operator";

export const conv: OperatorQuantizer = {
  weightSlot(_node, dims) {
    return dims.length >= 3 ? { input: 1, axis: 0 } : null;
  },
};
