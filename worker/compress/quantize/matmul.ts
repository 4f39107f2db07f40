// MatMul(A, B): the constant B of shape [..., K, N] is the weight; output channels lie along its last axis.
import type { OperatorQuantizer } from "./operator";

export const matmul: OperatorQuantizer = {
  weightSlot(_node, dims) {
    return dims.length >= 2 ? { input: 1, axis: dims.length - 1 } : null;
  },
};
