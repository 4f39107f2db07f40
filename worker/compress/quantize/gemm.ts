// Gemm(A, B, C): B is [K, N], or [N, K] when transB=1; output channels are N.
import type { OperatorQuantizer } from "./operator";
import { intAttribute } from "../../onnx/attributes";

export const gemm: OperatorQuantizer = {
  weightSlot(node, dims) {
    if (dims.length !== 2) return null;
    return { input: 1, axis: intAttribute(node, "transB", 0) === 1 ? 0 : 1 };
  },
};
