// Which operators have quantizable weights: one entry per op kind says which input holds the weight
// and along which axis its output channels lie. Ops not listed stay float.
import type { NodeProto } from "onnx-buf";
import { conv } from "./conv";
import { gemm } from "./gemm";
import { matmul } from "./matmul";

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

export const QUANTIZERS: Record<string, OperatorQuantizer> = {
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
};
