// The engine's checks of node attributes, shared by the op modules: legal-looking rules (attribute-rules.ts) broken
// at plan time leave the model to onnxruntime-web (Uncovered); geometry that only a run's shapes can refute (a kernel
// larger than the padded input, an axis or perm beyond the input's rank) is a RangeError, a 400 naming the node.
import type { NodeProto } from "onnx-buf";
import { attributeProblem, permProblem } from "../../onnx/attribute-rules";
import { Uncovered } from "./values";

/** Plan time: the node's window/perm attributes as ONNX states them, else Uncovered. */
export function checkNodeAttributes(node: NodeProto): void {
  const problem = attributeProblem(node);
  if (problem) throw new Uncovered(problem);
}

/** Run time: every output dim of a window at least 1 (the dilated kernel fits the padded input). */
export function checkWindowOutput(op: string, input: readonly number[], out: readonly number[]): void {
  if (out.some((d) => !(d >= 1) || !Number.isSafeInteger(d))) {
    throw new RangeError(`${op}: the kernel is larger than the padded input [${input}] (output dims [${out}])`);
  }
}

/** Run time: a perm that fits the input's rank. */
export function checkPerm(perm: readonly number[], rank: number): void {
  const problem = permProblem(perm, rank);
  if (problem) throw new RangeError(`Transpose: ${problem}`);
}

/** An axis in [-rank, rank) (or [-rank, rank] where the op allows `rank`, as Flatten does), made non-negative. */
export function checkedAxis(op: string, axis: number, rank: number, inclusive = false): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank || (a === rank && !inclusive)) throw new RangeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
