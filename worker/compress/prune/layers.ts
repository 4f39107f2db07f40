// Which operators have prunable weights and how those weights are laid out: one entry per op kind says
// which input holds the weight, where its output channels lie and along which axis its inputs are reduced.
import type { NodeProto } from "onnx-buf";
import { intAttribute } from "../../onnx/attributes";

export interface WeightLayout {
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Axis of the weight holding output channels. */
  outAxis: number;
  /** Axis of the weight summed over by the op (N:M groups run along it). */
  inAxis: number;
}

export interface PrunableOperator {
  /** The weight's layout for this node and weight shape, or null when this node's weight is not prunable. */
  layout(node: NodeProto, weightDims: readonly number[]): WeightLayout | null;
}

// MatMul(A, B): B is [..., K, N]; only plain 2-D weights are pruned.
const matmul: PrunableOperator = {
  layout: (_node, dims) => (dims.length === 2 ? { input: 1, outAxis: 1, inAxis: 0 } : null),
};

// Gemm(A, B, C): B is [K, N], or [N, K] when transB=1.
const gemm: PrunableOperator = {
  layout(node, dims) {
    if (dims.length !== 2) return null;
    return intAttribute(node, "transB", 0) === 1 ? { input: 1, outAxis: 0, inAxis: 1 } : { input: 1, outAxis: 1, inAxis: 0 };
  },
};

// Conv(X, W, B): W is [M, C/group, k...].
const conv: PrunableOperator = {
  layout: (_node, dims) => (dims.length >= 3 ? { input: 1, outAxis: 0, inAxis: 1 } : null),
};

export const PRUNABLE: Record<string, PrunableOperator> = { MatMul: matmul, Gemm: gemm, Conv: conv };

export function prunableOperator(node: NodeProto): PrunableOperator | undefined {
  return node.domain === "" || node.domain === "ai.onnx" ? PRUNABLE[node.opType] : undefined;
}

/** Splits `dims` around `axis`: outer x size x inner elements, row-major. */
export function aroundAxis(dims: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  return {
    outer: dims.slice(0, axis).reduce((a, b) => a * b, 1),
    size: dims[axis]!,
    inner: dims.slice(axis + 1).reduce((a, b) => a * b, 1),
  };
}
