// Lifting legacy models (default opset < 7) to opset 7, where Mul broadcasts numpy-style, when that changes no
// node's meaning. onnxruntime has no kernels for the opset-6 forms of the elementwise ops, so a rewrite that
// needs one (the per-channel rescale of a quantized weight) needs opset 7.
import { edited } from "./edit";
import type { ModelProto, NodeProto } from "onnx-buf";
import { defaultOpset } from "./validate";

/** Ops that gained a new version at opset 7; each needs care, or blocks the upgrade. */
const ADAPTERS: Record<string, (node: NodeProto) => NodeProto | string> = {
  // Gemm-6's `broadcast` is implied at 7 (C broadcasts unidirectionally).
  Gemm: (n) => dropAttributes(n, ["broadcast"]),
  // `is_test` is gone at 7; inference behaviour is the same.
  Dropout: (n) => dropAttributes(n, ["is_test"]),
  BatchNormalization: (n) => dropAttributes(n, ["is_test"]),
  // AveragePool-7 adds count_include_pad with the old behaviour as default.
  AveragePool: (n) => n,
};
const LEGACY_BROADCAST = new Set(["Add", "Sub", "Mul", "Div", "And", "Or", "Xor", "Equal", "Greater", "Less", "Pow", "PRelu"]);
const CHANGED_SEMANTICS = new Set(["GRU", "LSTM", "RNN", "Upsample"]);

function dropAttributes(node: NodeProto, names: string[]): NodeProto {
  return edited(node, { attribute: node.attribute.filter((a) => !names.includes(a.name)) });
}

/** The model at opset 7, or the reason it cannot be lifted. Models at 7 or above come back unchanged. */
export function liftToOpset7(model: ModelProto): { model: ModelProto } | { reason: string } {
  const opset = defaultOpset(model);
  if (opset >= 7) return { model };
  const graph = model.graph!;
  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    const label = node.name || node.opType;
    if (node.domain !== "" && node.domain !== "ai.onnx") {
      nodes.push(node);
      continue;
    }
    if (CHANGED_SEMANTICS.has(node.opType)) return { reason: `${node.opType} node '${label}' changed meaning at opset 7` };
    if (LEGACY_BROADCAST.has(node.opType)) {
      // Without the legacy broadcast attribute, operands have equal shapes and opset 7 computes the same.
      if (node.attribute.some((a) => a.name === "broadcast" && a.i !== 0n)) {
        return { reason: `${node.opType} node '${label}' uses opset-${opset} broadcasting` };
      }
      nodes.push(dropAttributes(node, ["broadcast", "axis"]));
      continue;
    }
    const adapt = ADAPTERS[node.opType];
    const adapted = adapt ? adapt(node) : node;
    if (typeof adapted === "string") return { reason: adapted };
    nodes.push(adapted);
  }
  const opsetImport = model.opsetImport.map((o) =>
    o.domain === "" || o.domain === "ai.onnx" ? edited(o, { version: 7n }) : o,
  );
  return { model: { ...model, opsetImport, graph: { ...graph, node: nodes } } };
}
