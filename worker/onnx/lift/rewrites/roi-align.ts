// RoiAlign at opset 16: coordinate_transformation_mode is new and defaults to half_pixel, while RoiAlign-10
// computed what 16 calls output_half_pixel; a node without the attribute gets the old mode spelled out.
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type NodeProto } from "onnx-buf";
import { edited } from "../../edit";

export function roiAlignMode(node: NodeProto): NodeProto {
  if (node.attribute.some((a) => a.name === "coordinate_transformation_mode")) return node;
  const mode = create(AttributeProtoSchema, {
    name: "coordinate_transformation_mode",
    type: AT.STRING,
    s: new TextEncoder().encode("output_half_pixel") as Uint8Array<ArrayBuffer>,
  });
  return edited(node, { attribute: [...node.attribute, mode] });
}
