// BatchNormalization at opset 14: the optional outputs of version 9 (training statistics) were redefined as
// running_mean/running_var of training_mode. An inference node (Y only) computes the same; others are refused.
import type { NodeProto } from "onnx-buf";

export function batchNormInference(node: NodeProto): NodeProto | { refuse: string } {
  if (node.output.slice(1).some((o) => o !== "")) return { refuse: "BatchNormalization with training outputs changed meaning at opset 14" };
  return node;
}
