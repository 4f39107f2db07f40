// Lifting a model's default-domain opset (13 up) to a newer one, node by node per OP_HISTORY: ops whose new
// versions mean the same pass, rewritable ones are rewritten, the rest refuse with the op, node and version.
// Subgraphs (If/Loop/Scan bodies) are lifted with their parents; nodes of other domains and model-local
// functions are not versioned by the default opset and are refused rather than guessed at.
import { nameAllocator } from "../names";
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType as AT, TensorProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from "onnx-buf";
import { DT } from "../dtype";
import { defaultOpset } from "../validate";
import { edited } from "../edit";
import { nodeLabel } from "../operators";
import { OP_HISTORY, RUNTIME_GAPS } from "./history";
import { REWRITES, type ConstantSink } from "./rewrites";

export { OP_HISTORY } from "./history";

/** The lowest opset lifted: older models lack per-axis DequantizeLinear and differ in too many ops. */
export const LIFT_FROM = 13;

const isDefault = (domain: string) => domain === "" || domain === "ai.onnx";

class Refusal {
  constructor(readonly reason: string) {}
}

function int64Tensor(name: string, values: bigint[], dims: number[]): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dataType: DT.INT64,
    dims: dims.map(BigInt),
    rawData: new Uint8Array(BigInt64Array.from(values).buffer) as Uint8Array<ArrayBuffer>,
  });
}

function liftGraph(graph: GraphProto, from: number, to: number, fresh: (wanted: string) => string): GraphProto {
  const added: TensorProto[] = [];
  const constants: ConstantSink = {
    int64(hint, values, dims) {
      const name = fresh(hint);
      added.push(int64Tensor(name, values, dims));
      return name;
    },
  };
  let changed = false;
  const nodes = graph.node.map((node) => {
    const lifted = liftNode(node, from, to, constants, fresh);
    if (lifted !== node) changed = true;
    return lifted;
  });
  if (!changed && added.length === 0) return graph;
  return edited(graph, { node: nodes, initializer: [...graph.initializer, ...added] });
}

function liftNode(node: NodeProto, from: number, to: number, constants: ConstantSink, fresh: (wanted: string) => string): NodeProto {
  const label = `${node.opType} node '${nodeLabel(node)}'`;
  if (!isDefault(node.domain)) throw new Refusal(`${node.domain}.${node.opType} nodes are not lifted (only the default ONNX domain is)`);
  const history = OP_HISTORY[node.opType];
  if (!history) throw new Refusal(`${node.opType} is not a standard ONNX op`);
  if (history.since > from) throw new Refusal(`${node.opType} is not defined at opset ${from} (it came with opset ${history.since})`);
  if (history.removed !== undefined && history.removed <= from) throw new Refusal(`${node.opType} was removed at opset ${history.removed}`);
  const gap = RUNTIME_GAPS[node.opType];
  if (gap !== undefined && gap <= to) throw new Refusal(`${label}: onnxruntime 1.30 has no ${node.opType}-${gap} kernel`);
  let out = node;
  for (const step of history.steps) {
    if (step.at <= from || step.at > to) continue;
    if (step.action === "refuse") throw new Refusal(`${label} changed meaning at opset ${step.at} (${step.why})`);
    if (step.action === "rewrite") {
      const r = REWRITES[step.rewrite](out, constants);
      if ("refuse" in r) throw new Refusal(`${label}: ${r.refuse}`);
      out = r;
    }
  }
  // Bodies of If/Loop/Scan (and any other graph attribute) are read at the same opset as their parent.
  const attribute = out.attribute.map((a) => {
    if (a.type === AT.GRAPH && a.g) {
      const g = liftGraph(a.g, from, to, fresh);
      return g === a.g ? a : edited(a, { g });
    }
    if (a.type === AT.GRAPHS && a.graphs.length > 0) {
      const graphs = a.graphs.map((g) => liftGraph(g, from, to, fresh));
      return graphs.every((g, i) => g === a.graphs[i]) ? a : edited(a, { graphs });
    }
    return a;
  });
  return attribute.every((a, i) => a === out.attribute[i]) ? out : edited(out, { attribute });
}

/**
 * The model with its default-domain opset at `to`, or why it cannot be lifted. Models already at `to` or above
 * come back unchanged; the IR version is the caller's (what it needs depends on the tensors it will add).
 */
export function liftDefaultOpset(model: ModelProto, to: number): { model: ModelProto } | { reason: string } {
  const from = defaultOpset(model);
  if (from >= to) return { model };
  if (from < LIFT_FROM) return { reason: `opset ${from} models are not lifted (opsets below ${LIFT_FROM} lack per-axis DequantizeLinear)` };
  if (model.functions.length > 0) return { reason: "models with local functions are not lifted" };
  const fresh = nameAllocator(model.graph!);
  try {
    const graph = liftGraph(model.graph!, from, to, fresh);
    const opsetImport = model.opsetImport.map((o) => (isDefault(o.domain) ? edited(o, { version: BigInt(to) }) : o));
    return { model: edited(model, { graph, opsetImport }) };
  } catch (e) {
    if (e instanceof Refusal) return { reason: `lifting from opset ${from}: ${e.reason}` };
    throw e;
  }
}
