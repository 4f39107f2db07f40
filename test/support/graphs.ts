// Graph attributes for tests (the builders take numbers, strings, lists and tensors): If nodes with their branches,
// Loop/Scan-style nodes with a body.
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type GraphProto, type NodeProto } from "onnx-buf";
import { makeNode } from "@worker/onnx/builders";
import { edited } from "@worker/onnx/edit";

/** `node` with graph attributes added (sorted by name with the others, as the builders sort). */
export function withGraphs(node: NodeProto, graphs: Record<string, GraphProto>): NodeProto {
  const extra = Object.entries(graphs).map(([name, g]) => create(AttributeProtoSchema, { name, type: AT.GRAPH, g }));
  return edited(node, { attribute: [...node.attribute, ...extra].sort((a, b) => a.name.localeCompare(b.name)) });
}

/** If(cond) with its two branches. */
export function ifNode(cond: string, outputs: string[], then: GraphProto, otherwise: GraphProto, name = "if"): NodeProto {
  return withGraphs(makeNode("If", [cond], outputs, name), { else_branch: otherwise, then_branch: then });
}
