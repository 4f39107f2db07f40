// Reduce* at opset 18: the `axes` attribute becomes the optional second input (an int64 constant). Without the
// attribute nothing changes: an absent axes input with noop_with_empty_axes = 0 (its default) reduces all axes, as
// the attribute's absence did.
import type { NodeProto } from "onnx-buf";
import { edited } from "../../edit";
import { nodeLabel } from "../../operators";
import type { ConstantSink } from "./constants";

export function reduceAxes(node: NodeProto, constants: ConstantSink): NodeProto {
  const axes = node.attribute.find((a) => a.name === "axes");
  if (!axes) return node;
  const attribute = node.attribute.filter((a) => a !== axes);
  // An empty axes list meant "all axes" too; an empty input would as well, but leaving it out says so plainly.
  if (axes.ints.length === 0) return edited(node, { attribute });
  const name = constants.int64(`${nodeLabel(node)}_axes`, [...axes.ints], [axes.ints.length]);
  return edited(node, { attribute, input: [node.input[0]!, name] });
}
