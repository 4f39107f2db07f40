// Split at opset 18: without a `split` input the node must say how many parts it makes (num_outputs). Split-13
// then made equal parts, one per output, which num_outputs = outputs.length computes.
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type NodeProto } from "onnx-buf";
import { edited } from "../../edit";

export function splitOutputs(node: NodeProto): NodeProto {
  if (node.input.length > 1 && node.input[1] !== "") return node;
  const numOutputs = create(AttributeProtoSchema, { name: "num_outputs", type: AT.INT, i: BigInt(node.output.length) });
  return edited(node, { input: [node.input[0]!], attribute: [...node.attribute.filter((a) => a.name !== "num_outputs"), numOutputs] });
}
