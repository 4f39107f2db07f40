// Structural validation of a decoded model (the checks that make it safe to store and serve)
// and its summary: opsets, typed inputs/outputs with symbolic dims, parameter count, op histogram.
import type { AttributeProto, GraphProto, ModelProto, NodeProto, ValueInfoProto } from "onnx-buf";
import { AttributeProto_AttributeType as AT } from "onnx-buf";
import { dtypeName } from "./dtype";
import { elementCount, tensorDims } from "./tensor";
import { checkSparseTensor, checkTally, checkTensor, OnnxValidationError, type TensorTally } from "./backing";
import { LimitError, MAX_GRAPH_NODES, MAX_SUBGRAPH_DEPTH } from "./limits";
import { attributeProblem } from "./attribute-rules";

export { OnnxValidationError };

const DEFAULT_DOMAINS = new Set(["", "ai.onnx"]);

export interface TensorSignature {
  name: string;
  type: string;
  /** Numbers are fixed dims, strings symbolic (dim_param), null unknown. */
  shape: (number | string | null)[] | null;
}

export interface ModelSummary {
  irVersion: number;
  opset: { domain: string; version: number }[];
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  parameters: number;
  ops: Record<string, number>;
}

/**
 * Throws OnnxValidationError (400) naming the first problem found, or LimitError (413) naming the bound a model
 * exceeds. Linear in nodes, edges and tensor data (graph size capped first: MAX_GRAPH_NODES, MAX_SUBGRAPH_DEPTH).
 */
export function validateModel(model: ModelProto, options: { skeletonOf?: number } = {}): void {
  if (model.irVersion <= 0n) throw new OnnxValidationError("missing ir_version");
  if (!model.graph) throw new OnnxValidationError("model has no graph");
  if (model.opsetImport.length === 0) throw new OnnxValidationError("model has no opset_import");
  const domains = new Set(model.opsetImport.map((o) => o.domain));
  for (const o of model.opsetImport) {
    if (o.version <= 0n) throw new OnnxValidationError(`opset_import for domain '${o.domain}' has version ${o.version}`);
  }
  checkGraphSize(model.graph);
  const hasDefault = [...domains].some((d) => DEFAULT_DOMAINS.has(d));
  // A skeleton's weights stay in the original object of `skeletonOf` bytes (./skeleton.ts).
  const tally: TensorTally = { declared: 0, bytes: 0, objectBytes: options.skeletonOf };
  const refs = new Map<GraphProto, Set<string>>();
  checkGraph(model.graph, null, (domain, node) => {
    if (DEFAULT_DOMAINS.has(domain) ? !hasDefault : !domains.has(domain)) {
      throw new OnnxValidationError(`node '${node}' uses domain '${domain || "ai.onnx"}' that has no opset_import`);
    }
  }, tally, refs);
  checkTally(tally);
  if (model.graph.output.length === 0) throw new OnnxValidationError("graph has no outputs");
}

function subgraphsOf(node: NodeProto): GraphProto[] {
  const graphs: GraphProto[] = [];
  for (const a of node.attribute) {
    if (a.type === AT.GRAPH && a.g) graphs.push(a.g);
    if (a.type === AT.GRAPHS) graphs.push(...a.graphs);
  }
  return graphs;
}

/** Caps the graph before any other work: total nodes (subgraphs included) and nesting depth. */
function checkGraphSize(root: GraphProto): void {
  let nodes = 0;
  const stack: { g: GraphProto; depth: number }[] = [{ g: root, depth: 0 }];
  while (stack.length > 0) {
    const { g, depth } = stack.pop()!;
    if (depth > MAX_SUBGRAPH_DEPTH) {
      throw new LimitError(`subgraphs nest deeper than ${MAX_SUBGRAPH_DEPTH} levels (MAX_SUBGRAPH_DEPTH), at subgraph '${g.name}'`);
    }
    nodes += g.node.length;
    if (nodes > MAX_GRAPH_NODES) {
      throw new LimitError(`the model has more than ${MAX_GRAPH_NODES} nodes, subgraphs included (MAX_GRAPH_NODES)`);
    }
    for (const n of g.node) for (const sg of subgraphsOf(n)) stack.push({ g: sg, depth: depth + 1 });
  }
}

/** Names visible to a graph: its own, then each enclosing graph's (a chain, never copied). */
interface Scope {
  names: Set<string>;
  parent: Scope | null;
}

const inScope = (scope: Scope | null, name: string): boolean => {
  for (let s = scope; s; s = s.parent) if (s.names.has(name)) return true;
  return false;
};

/** Names a subgraph reads from enclosing scopes (used but not defined inside it), computed once per graph. */
function outerReferences(g: GraphProto, memo: Map<GraphProto, Set<string>>): Set<string> {
  const known = memo.get(g);
  if (known) return known;
  const defined = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  for (const s of g.sparseInitializer) if (s.values?.name) defined.add(s.values.name);
  for (const n of g.node) for (const o of n.output) if (o) defined.add(o);
  const refs = new Set<string>();
  for (const n of g.node) {
    for (const i of n.input) if (i && !defined.has(i)) refs.add(i);
    for (const sg of subgraphsOf(n)) for (const r of outerReferences(sg, memo)) if (!defined.has(r)) refs.add(r);
  }
  for (const o of g.output) if (!defined.has(o.name)) refs.add(o.name);
  memo.set(g, refs);
  return refs;
}

/** Tensors that attributes carry (Constant's value, and any other TENSOR/SPARSE_TENSOR attribute). */
function checkAttributeTensors(a: AttributeProto, label: string, tally: TensorTally): void {
  const what = `attribute '${a.name}' of node ${label}`;
  if (a.t) checkTensor(a.t, what, tally);
  for (const t of a.tensors) checkTensor(t, what, tally);
  if (a.sparseTensor) checkSparseTensor(a.sparseTensor, what, tally);
  for (const s of a.sparseTensors) checkSparseTensor(s, what, tally);
}

function checkGraph(
  g: GraphProto,
  outer: Scope | null,
  checkDomain: (domain: string, node: string) => void,
  tally: TensorTally,
  refs: Map<GraphProto, Set<string>>,
  nested = false,
): void {
  // Only subgraphs are named in messages: the main graph is implied.
  const where = nested ? ` in subgraph '${g.name}'` : "";
  const produced = new Map<string, number>();
  const local = new Set<string>();
  const available = (name: string) => local.has(name) || inScope(outer, name);
  const inputs = new Set<string>();
  for (const v of g.input) {
    local.add(v.name);
    inputs.add(v.name);
  }
  for (const t of g.initializer) {
    local.add(t.name);
    checkTensor(t, `initializer '${t.name}'${where}`, tally);
  }
  for (const s of g.sparseInitializer) {
    if (!s.values?.name) throw new OnnxValidationError(`a sparse initializer${where} has no values name`);
    local.add(s.values.name);
    checkSparseTensor(s, `sparse initializer '${s.values.name}'${where}`, tally);
  }
  g.node.forEach((n, idx) => {
    const label = n.name || `#${idx} (${n.opType})`;
    if (!n.opType) throw new OnnxValidationError(`node ${label}${where} has no op_type`);
    checkDomain(n.domain, label);
    for (const a of n.attribute) checkAttributeTensors(a, label, tally);
    const problem = attributeProblem(n);
    if (problem) throw new OnnxValidationError(`node ${label}${where}: ${problem}`);
    for (const o of n.output) {
      if (!o) continue;
      if (produced.has(o) || inputs.has(o)) {
        throw new OnnxValidationError(`tensor '${o}'${where} is produced more than once (node ${label})`);
      }
      produced.set(o, idx);
    }
  });
  // Every input must be defined somewhere; the order check below then finds cycles.
  const deps: string[][] = g.node.map((n) => [
    ...n.input.filter((i) => i !== ""),
    ...subgraphsOf(n).flatMap((sg) => [...outerReferences(sg, refs)]),
  ]);
  deps.forEach((names, idx) => {
    const n = g.node[idx]!;
    for (const i of names) {
      if (!available(i) && !produced.has(i)) {
        throw new OnnxValidationError(`node '${n.name || `#${idx} (${n.opType})`}'${where} uses undefined tensor '${i}'`);
      }
    }
  });
  for (const o of g.output) {
    if (!available(o.name) && !produced.has(o.name)) {
      throw new OnnxValidationError(`graph output '${o.name}'${where} is never produced`);
    }
  }
  // Kahn's algorithm over producer -> consumer edges: anything left over sits on a cycle.
  const indegree = new Array<number>(g.node.length).fill(0);
  const consumers: number[][] = g.node.map(() => []);
  deps.forEach((names, idx) => {
    for (const i of new Set(names)) {
      const p = produced.get(i);
      if (p === undefined || local.has(i)) continue;
      indegree[idx]! += 1;
      consumers[p]!.push(idx);
    }
  });
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  let visited = 0;
  while (ready.length > 0) {
    const i = ready.pop()!;
    visited += 1;
    for (const c of consumers[i]!) {
      indegree[c]! -= 1;
      if (indegree[c] === 0) ready.push(c);
    }
  }
  if (visited !== g.node.length) {
    const stuck = indegree.findIndex((d) => d > 0);
    const n = g.node[stuck]!;
    throw new OnnxValidationError(`graph${where} has a cycle through node '${n.name || `#${stuck} (${n.opType})`}'`);
  }
  // Subgraphs see this graph's names, and through the chain every enclosing graph's.
  for (const o of produced.keys()) local.add(o);
  const scope: Scope = { names: local, parent: outer };
  for (const n of g.node) for (const sg of subgraphsOf(n)) checkGraph(sg, scope, checkDomain, tally, refs, true);
}

function signature(v: ValueInfoProto): TensorSignature {
  const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  const type = tt ? dtypeName(tt.elemType) : (v.type?.value.case ?? "unknown");
  const shape = tt?.shape
    ? tt.shape.dim.map((d) =>
        d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : null,
      )
    : null;
  return { name: v.name, type, shape };
}

function countOps(g: GraphProto, ops: Record<string, number>): void {
  for (const n of g.node) {
    const key = DEFAULT_DOMAINS.has(n.domain) ? n.opType : `${n.domain}:${n.opType}`;
    ops[key] = (ops[key] ?? 0) + 1;
    for (const sg of subgraphsOf(n)) countOps(sg, ops);
  }
}

export function summarizeModel(model: ModelProto): ModelSummary {
  const g = model.graph!;
  const initializers = new Set([...g.initializer.map((t) => t.name), ...g.sparseInitializer.map((t) => t.values?.name ?? "")]);
  const ops: Record<string, number> = {};
  countOps(g, ops);
  const sortedOps = Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    irVersion: Number(model.irVersion),
    opset: model.opsetImport.map((o) => ({ domain: o.domain || "ai.onnx", version: Number(o.version) })),
    inputs: g.input.filter((v) => !initializers.has(v.name)).map(signature),
    outputs: g.output.map(signature),
    parameters:
      g.initializer.reduce((sum, t) => sum + elementCount(tensorDims(t)), 0) +
      g.sparseInitializer.reduce((sum, t) => sum + elementCount(t.dims.map(Number)), 0),
    ops: sortedOps,
  };
}

/** The default-domain opset version (0 when the model imports none). */
export function defaultOpset(model: ModelProto): number {
  const o = model.opsetImport.find((x) => DEFAULT_DOMAINS.has(x.domain));
  return o ? Number(o.version) : 0;
}
