// What a quantizable operator tells the quantizers: which input holds its weight and along which axis its output
// channels run. Its own module so that the operators and the registry that lists them do not import each other.
import type { NodeProto } from "onnx-buf";

export interface WeightSlot {
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Output-channel axis of the weight tensor. */
  axis: number;
}

export interface OperatorQuantizer {
  /** The weight slot for this node and weight shape, or null when the node's weight is not quantizable. */
  weightSlot(node: NodeProto, weightDims: readonly number[]): WeightSlot | null;
}
