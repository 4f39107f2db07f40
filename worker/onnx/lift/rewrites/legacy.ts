// Rewrites for the version changes between opsets 8 and 13 that are not attribute-to-input moves: Dropout-10/12
// (mask type, ratio input), BatchNormalization-9 (spatial), Resize-11 (coordinate modes), Upsample-10 (replaced by
// Resize), Scatter-11 (renamed ScatterElements).
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, type NodeProto } from "onnx-buf";
import { edited } from "../../edit";
import { nodeLabel } from "../../operators";
import { readFloat32 } from "../../tensor";
import type { ConstantSink, GraphFacts } from "./constants";

const stringAttr = (name: string, value: string) =>
  create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(value) as Uint8Array<ArrayBuffer> });
const modeOf = (node: NodeProto) => {
  const m = node.attribute.find((a) => a.name === "mode");
  return m ? new TextDecoder().decode(m.s) : "nearest";
};

/** Dropout-10 made the mask output bool (it was the input's type): a node whose mask is named is refused. */
export function dropoutMask(node: NodeProto): NodeProto | { refuse: string } {
  if ((node.output[1] ?? "") !== "") return { refuse: "Dropout's mask output changed type at opset 10" };
  return node;
}

/** Dropout-12: ratio moved to an input; without training_mode the node is the identity whatever the ratio. */
export function dropoutRatio(node: NodeProto): NodeProto {
  if (!node.attribute.some((a) => a.name === "ratio")) return node;
  return edited(node, { attribute: node.attribute.filter((a) => a.name !== "ratio") });
}

/** BatchNormalization-9 dropped `spatial` (1, the default, is what remained); spatial = 0 is refused. */
export function batchNormSpatial(node: NodeProto): NodeProto | { refuse: string } {
  const spatial = node.attribute.find((a) => a.name === "spatial");
  if (!spatial) return node;
  if (spatial.i !== 1n) return { refuse: "BatchNormalization with spatial = 0 (per-element statistics) was removed at opset 9" };
  return edited(node, { attribute: node.attribute.filter((a) => a !== spatial) });
}

/**
 * Resize-10 (X, scales) as Resize-13 (X, roi absent, scales): opset 10 sampled at asymmetric coordinates (x / scale)
 * and took the nearest pixel by floor when enlarging, what 11 spells coordinate_transformation_mode = asymmetric,
 * nearest_mode = floor. Shrinking by nearest rounded differently, so nearest nodes are lifted only with constant
 * scales of at least 1.
 */
function resizeFrom10(node: NodeProto, x: string, scales: string, mode: string, values: readonly number[] | undefined): NodeProto | { refuse: string } {
  if (mode !== "nearest" && mode !== "linear") return { refuse: `${node.opType} mode '${mode}' has no opset-13 equivalent known here` };
  const attribute = [
    ...node.attribute.filter((a) => a.name !== "mode" && a.name !== "scales"),
    stringAttr("mode", mode),
    stringAttr("coordinate_transformation_mode", "asymmetric"),
  ];
  if (mode === "nearest") {
    if (!values) return { refuse: `${node.opType} (nearest) with scales that are not a constant: opset 10 rounded shrinking and enlarging differently` };
    if (values.some((s) => !(s >= 1))) return { refuse: `${node.opType} (nearest) shrinking an axis: opset 10's rounding there has no opset-13 mode` };
    attribute.push(stringAttr("nearest_mode", "floor"));
  }
  return edited(node, { opType: "Resize", input: [x, "", scales], attribute });
}

const constantValues = (facts: GraphFacts, name: string) => {
  const t = facts.constantOf(name);
  return t ? Array.from(readFloat32(t)) : undefined;
};

export function resize10(node: NodeProto, _constants: ConstantSink, facts: GraphFacts): NodeProto | { refuse: string } {
  const scales = node.input[1] ?? "";
  return resizeFrom10(node, node.input[0]!, scales, modeOf(node), constantValues(facts, scales));
}

/**
 * Upsample-7 (scales attribute) and -9 (scales input) were deprecated at 10 for Resize-10, which takes the same
 * inputs with the same meaning; the Resize-11 step then spells its coordinates out.
 */
export function upsampleToResize(node: NodeProto, constants: ConstantSink): NodeProto {
  const attr = node.attribute.find((a) => a.name === "scales");
  const scales = attr ? constants.float32(`${nodeLabel(node)}_scales`, [...attr.floats], [attr.floats.length]) : (node.input[1] ?? "");
  const mode = modeOf(node) === "bilinear" ? "linear" : modeOf(node);
  const attribute = [...node.attribute.filter((a) => a.name !== "mode" && a.name !== "scales"), stringAttr("mode", mode)];
  return edited(node, { opType: "Resize", input: [node.input[0]!, scales], attribute });
}

/** Scatter-9 was renamed ScatterElements at 11, with the same inputs and meaning. */
export function scatterElements(node: NodeProto): NodeProto {
  return edited(node, { opType: "ScatterElements" });
}
