// Lifting a model's default-domain opset (7 up) to a newer one, node by node per LEGACY_STEPS (8-13) and OP_HISTORY
// (14-25): ops whose new versions mean the same pass, rewritable ones are rewritten, the rest refuse with the op,
// node and version.
// Subgraphs (If/Loop/Scan bodies) are lifted with their parents; nodes of other domains and model-local
// functions are not versioned by the default opset and are refused rather than guessed at.
import { nameAllocator } from "../names";
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType as AT, TensorProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from "onnx-buf";
import { DT } from "../dtype";
import { defaultOpset } from "../validate";
import { edited } from "../edit";
import { nodeLabel } from "../operators";
import { OP_HISTORY, RUNTIME_GAPS, type Step } from "./history";
import { LEGACY_STEPS } from "./legacy-history";
import { REWRITES, type ConstantSink, type GraphFacts } from "./rewrites";
import { outputRank } from "./ranks";

export { OP_HISTORY } from "./history";

/** The lowest opset lifted (opset-6 models go to 7 by worker/onnx/opset.ts, where broadcasting changed). */
export const LIFT_FROM = 7;
/** Models below this are lifted to it at least: Resize's roi input, which the Resize-10 rewrite leaves out, became optional there. */
const LEGACY_TARGET = 13;

const isDefault = (domain: string) => domain === "" || domain === "ai.onnx";

class Refusal {
  constructor(readonly reason: string) {}
}

function tensorOf(name: string, dataType: number, bytes: ArrayBuffer, dims: number[]): TensorProto {
  return create(TensorProtoSchema, { name, dataType, dims: dims.map(BigInt), rawData: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> });
}

/** Ranks, element types and constants the graph states (value infos, initializers, Constant nodes) or implies. */
function factsOf(graph: GraphProto, outer: GraphFacts | undefined, added: readonly TensorProto[]): GraphFacts {
  const ranks = new Map<string, number>();
  const types = new Map<string, number>();
  const constants = new Map<string, TensorProto>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) {
    const t = v.type?.value;
    if (t?.case !== "tensorType") continue;
    types.set(v.name, t.value.elemType);
    if (t.value.shape) ranks.set(v.name, t.value.shape.dim.length);
  }
  for (const t of graph.initializer) {
    ranks.set(t.name, t.dims.length);
    types.set(t.name, t.dataType);
    constants.set(t.name, t);
  }
  const rankOf = (name: string) => ranks.get(name) ?? outer?.rankOf(name);
  const constantOf = (name: string) => constants.get(name) ?? added.find((t) => t.name === name) ?? outer?.constantOf(name);
  for (const n of graph.node) {
    const value = n.opType === "Constant" ? n.attribute.find((a) => a.name === "value")?.t : undefined;
    if (value && n.output[0]) {
      constants.set(n.output[0], value);
      if (!ranks.has(n.output[0])) ranks.set(n.output[0], value.dims.length);
      types.set(n.output[0], value.dataType);
      continue;
    }
    const rank = outputRank(n, rankOf, constantOf);
    if (rank === undefined) continue;
    for (const out of n.output) if (out && !ranks.has(out)) ranks.set(out, rank);
  }
  return {
    rankOf,
    elementTypeOf: (name) => types.get(name) ?? outer?.elementTypeOf(name),
    constantOf,
  };
}

function liftGraph(graph: GraphProto, from: number, to: number, fresh: (wanted: string) => string, outer?: GraphFacts): GraphProto {
  const added: TensorProto[] = [];
  const constants: ConstantSink = {
    int64(hint, values, dims) {
      const name = fresh(hint);
      added.push(tensorOf(name, DT.INT64, BigInt64Array.from(values).buffer, dims));
      return name;
    },
    float32(hint, values, dims) {
      const name = fresh(hint);
      added.push(tensorOf(name, DT.FLOAT, Float32Array.from(values).buffer, dims));
      return name;
    },
  };
  const facts = factsOf(graph, outer, added);
  let changed = false;
  const nodes = graph.node.map((node) => {
    const lifted = liftNode(node, from, to, constants, facts, fresh);
    if (lifted !== node) changed = true;
    return lifted;
  });
  if (!changed && added.length === 0) return graph;
  return edited(graph, { node: nodes, initializer: [...graph.initializer, ...added] });
}

/** The op's version changes after `after` and up to `to`, older (8-13) first. */
function stepsOf(opType: string, after: number, to: number): Step[] {
  return [...(LEGACY_STEPS[opType] ?? []), ...(OP_HISTORY[opType]?.steps ?? [])].filter((s) => s.at > after && s.at <= to);
}

function liftNode(node: NodeProto, from: number, to: number, constants: ConstantSink, facts: GraphFacts, fresh: (wanted: string) => string): NodeProto {
  const label = `${node.opType} node '${nodeLabel(node)}'`;
  if (!isDefault(node.domain)) throw new Refusal(`${node.domain}.${node.opType} nodes are not lifted (only the default ONNX domain is)`);
  const history = OP_HISTORY[node.opType];
  if (!history) throw new Refusal(`${node.opType} is not a standard ONNX op`);
  if (history.since > from) throw new Refusal(`${node.opType} is not defined at opset ${from} (it came with opset ${history.since})`);
  if (history.removed !== undefined && history.removed <= from) throw new Refusal(`${node.opType} was removed at opset ${history.removed}`);
  const gap = RUNTIME_GAPS[node.opType];
  if (gap !== undefined && gap <= to) throw new Refusal(`${label}: onnxruntime 1.30 has no ${node.opType}-${gap} kernel`);
  let out = node;
  let steps = stepsOf(node.opType, from, to);
  while (steps.length > 0) {
    const step = steps.shift()!;
    if (step.action === "refuse") throw new Refusal(`${label} changed meaning at opset ${step.at} (${step.why})`);
    if (step.action === "rewrite") {
      const r = REWRITES[step.rewrite](out, constants, facts);
      if ("refuse" in r) throw new Refusal(`${label}: ${r.refuse}`);
      // A rewrite that replaces the op (Upsample -> Resize, Scatter -> ScatterElements) continues with the new op's history.
      if (r.opType !== out.opType) steps = stepsOf(r.opType, step.at, to);
      out = r;
    }
  }
  // Bodies of If/Loop/Scan (and any other graph attribute) are read at the same opset as their parent.
  const attribute = out.attribute.map((a) => {
    if (a.type === AT.GRAPH && a.g) {
      const g = liftGraph(a.g, from, to, fresh, facts);
      return g === a.g ? a : edited(a, { g });
    }
    if (a.type === AT.GRAPHS && a.graphs.length > 0) {
      const graphs = a.graphs.map((g) => liftGraph(g, from, to, fresh, facts));
      return graphs.every((g, i) => g === a.graphs[i]) ? a : edited(a, { graphs });
    }
    return a;
  });
  return attribute.every((a, i) => a === out.attribute[i]) ? out : edited(out, { attribute });
}

/**
 * The model at opset `least` or above for an op the quantizer writes (QuantizeLinear 10, DynamicQuantizeLinear 11):
 * as it is, or lifted to LEGACY_TARGET (IR version 7, what opset 13 needs), or why it cannot be lifted.
 */
export function liftedAtLeast(model: ModelProto, least: number): { model: ModelProto } | { reason: string } {
  if (defaultOpset(model) >= least) return { model };
  const lifted = liftDefaultOpset(model, Math.max(least, LEGACY_TARGET));
  if ("reason" in lifted) return lifted;
  return { model: lifted.model.irVersion < 7n ? { ...lifted.model, irVersion: 7n } : lifted.model };
}

/**
 * The model with its default-domain opset at `to`, or why it cannot be lifted. Models already at `to` or above
 * come back unchanged; the IR version is the caller's (what it needs depends on the tensors it will add).
 */
export function liftDefaultOpset(model: ModelProto, to: number): { model: ModelProto } | { reason: string } {
  const from = defaultOpset(model);
  if (from >= to) return { model };
  if (from < LIFT_FROM) return { reason: `opset ${from} models are not lifted (opsets below ${LIFT_FROM} broadcast differently)` };
  if (from < LEGACY_TARGET && to < LEGACY_TARGET) return { reason: `opset ${from} models are lifted to ${LEGACY_TARGET} or above, not to ${to}` };
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
