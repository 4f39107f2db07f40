// Attributes that became inputs between opsets 10 and 13, keeping the node's meaning: Slice-10 (starts, ends, axes),
// TopK-10 (k), Clip-11 (min, max), Pad-11 (pads, value), Split-13 (split), Squeeze-13 / Unsqueeze-13 (axes).
// The values move as they were into int64 (or float32) initializers; absent attributes stay absent inputs, whose
// defaults at the new version are the old attribute defaults (checked per op below).
import type { AttributeProto, NodeProto } from "onnx-buf";
import { DT } from "../../dtype";
import { edited } from "../../edit";
import { nodeLabel } from "../../operators";
import type { ConstantSink, GraphFacts } from "./constants";

/** The graph types the tensor, and not as float32. */
const notFloat32 = (facts: GraphFacts, name: string) => {
  const t = facts.elementTypeOf(name);
  return t !== undefined && t !== DT.FLOAT;
};
const attr = (node: NodeProto, name: string): AttributeProto | undefined => node.attribute.find((a) => a.name === name);
const without = (node: NodeProto, names: string[]) => node.attribute.filter((a) => !names.includes(a.name));

/** Slice-1 -> 10: starts, ends and axes become int64 inputs (axes stays optional: absent meant every axis in order). */
export function sliceInputs(node: NodeProto, constants: ConstantSink): NodeProto | { refuse: string } {
  const starts = attr(node, "starts");
  const ends = attr(node, "ends");
  if (!starts || !ends) return { refuse: "Slice without starts and ends attributes" };
  const label = nodeLabel(node);
  const n = starts.ints.length;
  const input = [node.input[0]!, constants.int64(`${label}_starts`, [...starts.ints], [n]), constants.int64(`${label}_ends`, [...ends.ints], [n])];
  const axes = attr(node, "axes");
  if (axes) input.push(constants.int64(`${label}_axes`, [...axes.ints], [axes.ints.length]));
  return edited(node, { attribute: without(node, ["starts", "ends", "axes"]), input });
}

/** TopK-1 -> 10: k becomes a one-element int64 input. */
export function topKInput(node: NodeProto, constants: ConstantSink): NodeProto | { refuse: string } {
  const k = attr(node, "k");
  if (!k) return { refuse: "TopK without its k attribute" };
  return edited(node, { attribute: without(node, ["k"]), input: [node.input[0]!, constants.int64(`${nodeLabel(node)}_k`, [k.i], [1])] });
}

/**
 * Clip-6 -> 11: min and max become scalar inputs of the input's type. Clip-6 took float16/float/double; the bounds
 * are written as float32, so an input the graph types otherwise is refused (one it does not type fails to load
 * rather than computing something else).
 */
export function clipInputs(node: NodeProto, constants: ConstantSink, facts: GraphFacts): NodeProto | { refuse: string } {
  const min = attr(node, "min");
  const max = attr(node, "max");
  if (!min && !max) return edited(node, { attribute: without(node, ["min", "max"]) });
  if (notFloat32(facts, node.input[0]!)) return { refuse: "Clip bounds on a tensor that is not float32" };
  const label = nodeLabel(node);
  const input = [node.input[0]!, min ? constants.float32(`${label}_min`, [min.f], []) : "", ...(max ? [constants.float32(`${label}_max`, [max.f], [])] : [])];
  return edited(node, { attribute: without(node, ["min", "max"]), input });
}

/** Pad-2 -> 11: pads becomes an int64 input, value an optional scalar (0 by default, as before); mode stays. */
export function padInputs(node: NodeProto, constants: ConstantSink, facts: GraphFacts): NodeProto | { refuse: string } {
  const pads = attr(node, "pads");
  if (!pads) return { refuse: "Pad without its pads attribute" };
  const label = nodeLabel(node);
  const input = [node.input[0]!, constants.int64(`${label}_pads`, [...pads.ints], [pads.ints.length])];
  const value = attr(node, "value");
  if (value && value.f !== 0) {
    if (notFloat32(facts, node.input[0]!)) return { refuse: "Pad value on a tensor that is not float32" };
    input.push(constants.float32(`${label}_value`, [value.f], []));
  }
  return edited(node, { attribute: without(node, ["pads", "value"]), input });
}

/** Split-2/11 -> 13: split sizes become an optional int64 input (absent: equal parts, as before). */
export function splitInput(node: NodeProto, constants: ConstantSink): NodeProto {
  const split = attr(node, "split");
  if (!split) return node;
  const name = constants.int64(`${nodeLabel(node)}_split`, [...split.ints], [split.ints.length]);
  return edited(node, { attribute: without(node, ["split"]), input: [node.input[0]!, name] });
}

/** Squeeze-1/11 -> 13 (axes optional: absent squeezes every 1) and Unsqueeze-1/11 -> 13 (axes required). */
export function axesInput(node: NodeProto, constants: ConstantSink): NodeProto | { refuse: string } {
  const axes = attr(node, "axes");
  if (!axes) return node.opType === "Unsqueeze" ? { refuse: "Unsqueeze without axes" } : node;
  const name = constants.int64(`${nodeLabel(node)}_axes`, [...axes.ints], [axes.ints.length]);
  return edited(node, { attribute: without(node, ["axes"]), input: [node.input[0]!, name] });
}
