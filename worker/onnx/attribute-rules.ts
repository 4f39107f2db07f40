// What ONNX states about window and permutation attributes without knowing any shape: strides, dilations and
// kernel_shape at least 1, pads at least 0, pads twice as long as the window's rank, perm a permutation. Validation
// refuses a model that breaks them (400); the kernel engine checks them again (worker/serve/engine/attributes.ts).
import type { NodeProto } from "onnx-buf";
import { intsAttribute } from "./attributes";

/** Ops whose strides/pads/dilations/kernel_shape describe a sliding window. */
const WINDOW_OPS = new Set([
  "Conv", "ConvInteger", "QLinearConv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "MaxUnpool", "DeformConv", "Col2Im",
]);

/** The first rule a node's window or perm attributes break, or null. */
export function attributeProblem(node: NodeProto): string | null {
  if (node.domain !== "" && node.domain !== "ai.onnx") return null;
  if (WINDOW_OPS.has(node.opType)) return windowProblem(node);
  if (node.opType === "Transpose") {
    const perm = node.attribute.find((a) => a.name === "perm");
    return perm ? permProblem(perm.ints.map(Number), perm.ints.length) : null;
  }
  return null;
}

/** A window's attributes (any of them absent is fine: defaults are legal). */
export function windowProblem(node: NodeProto): string | null {
  const has = (name: string) => node.attribute.some((a) => a.name === name);
  for (const name of ["strides", "dilations", "kernel_shape"]) {
    const v = intsAttribute(node, name, []);
    const bad = v.find((x) => !(x >= 1));
    if (bad !== undefined) return `${name} [${v}] holds ${bad}: each must be at least 1`;
  }
  const pads = intsAttribute(node, "pads", []);
  const neg = pads.find((x) => !(x >= 0));
  if (neg !== undefined) return `pads [${pads}] holds ${neg}: each must be at least 0`;
  if (pads.length % 2 !== 0) return `pads [${pads}] has an odd length: a begin and an end per spatial axis`;
  // The window's rank from whichever attribute is given: the others must agree with it.
  const ranks = [
    has("kernel_shape") ? intsAttribute(node, "kernel_shape", []).length : undefined,
    has("strides") ? intsAttribute(node, "strides", []).length : undefined,
    has("dilations") ? intsAttribute(node, "dilations", []).length : undefined,
    has("pads") ? pads.length / 2 : undefined,
  ].filter((r): r is number => r !== undefined);
  if (ranks.some((r) => r !== ranks[0])) return "kernel_shape, strides, dilations and pads disagree on the number of spatial axes";
  return null;
}

/** A permutation of 0..rank-1, or what is wrong with it. */
export function permProblem(perm: readonly number[], rank: number): string | null {
  if (perm.length !== rank) return `perm [${perm}] has ${perm.length} entries for rank ${rank}`;
  const seen = new Array<boolean>(rank).fill(false);
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen[p]) return `perm [${perm}] is not a permutation of 0..${rank - 1}`;
    seen[p] = true;
  }
  return null;
}
