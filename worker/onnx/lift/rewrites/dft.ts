// DFT at opset 20: `axis` moves from an attribute (default 1) to an optional scalar input whose default is -2,
// so the old axis is always written as an int64 input (third, after the optional dft_length).
import type { NodeProto } from "onnx-buf";
import { edited } from "../../edit";
import { nodeLabel } from "../../operators";
import type { ConstantSink } from "./constants";

export function dftAxis(node: NodeProto, constants: ConstantSink): NodeProto {
  const attr = node.attribute.find((a) => a.name === "axis");
  const axis = attr ? attr.i : 1n;
  const name = constants.int64(`${nodeLabel(node)}_axis`, [axis], []);
  return edited(node, {
    attribute: node.attribute.filter((a) => a !== attr),
    input: [node.input[0]!, node.input[1] ?? "", name],
  });
}
