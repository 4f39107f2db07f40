// Softmax, LogSoftmax and Hardmax at opset 13: before, the input was coerced to 2-D at `axis` (default 1) and
// normalised over everything from `axis` on; from 13 they normalise along `axis` alone (default -1). The two agree
// when `axis` is the last axis, so the node is lifted (with its axis written out) only where the graph shows that
// (a stated shape, or a rank that follows from the ops before it: ../ranks.ts);
// elsewhere it is refused rather than given a Flatten/Reshape it did not have.
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type NodeProto } from "onnx-buf";
import { edited } from "../../edit";
import type { ConstantSink, GraphFacts } from "./constants";

export function softmaxAxis(node: NodeProto, _constants: ConstantSink, facts: GraphFacts): NodeProto | { refuse: string } {
  const given = node.attribute.find((a) => a.name === "axis");
  const axis = given ? Number(given.i) : 1;
  // The output has the input's rank: a graph output's stated shape places the axis too.
  const rank = facts.rankOf(node.input[0]!) ?? facts.rankOf(node.output[0]!);
  if (rank === undefined) return { refuse: `${node.opType} before opset 13 normalises over every axis from ${axis} on, and the graph does not state its input's rank` };
  const normalised = axis < 0 ? axis + rank : axis;
  if (normalised !== rank - 1) return { refuse: `${node.opType} before opset 13 normalises over axes ${normalised}..${rank - 1} of its rank-${rank} input together; opset 13 normalises along one axis` };
  const written = create(AttributeProtoSchema, { name: "axis", type: AT.INT, i: -1n });
  return edited(node, { attribute: [...node.attribute.filter((a) => a !== given), written] });
}
