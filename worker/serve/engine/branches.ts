// If nodes opened up for planning: each branch's nodes join the graph under fresh names, guarded by the If's
// condition, and the If itself becomes a selection between the two branches' outputs (its inputs: the condition, then
// branch's outputs, else branch's). Planning folds the condition for the input shapes at hand (a constant, or shape
// arithmetic) and plans only the branch it chooses. A condition computed from a small input of fixed shape (a sample
// rate, a mode flag) folds too: such control inputs are planned as constants, their values part of the plan's key, so
// each value in use has its own plan. Any other condition computed at run time leaves the model to onnxruntime-web.
// Branches nested in branches open up the same way, each node guarded by every If above it.
import { create } from "@bufbuild/protobuf";
import { NodeProtoSchema, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from "onnx-buf";
import { DT } from "../../onnx/dtype";
import { MAX_SUBGRAPH_DEPTH } from "../../onnx/limits";
import { nameAllocator } from "../../onnx/names";
import { numbersOf } from "./elementwise";
import { Uncovered, type Constant } from "./values";

/** One If above a node: the branch the node is in holds when the condition is `then`. */
export interface Guard {
  cond: string;
  then: boolean;
  /** The If node's name, for messages. */
  node: string;
}

export interface OpenedGraph {
  nodes: NodeProto[];
  /** The branches' initializers, under their fresh names. */
  initializers: TensorProto[];
  /** Guards of each value a branch node writes (a node is guarded by its outputs' guards). */
  guards: Map<string, Guard[]>;
}

/** The graph's nodes with every If opened up; the graph itself is not changed. */
export function openBranches(graph: GraphProto): OpenedGraph {
  const opened: OpenedGraph = { nodes: [], initializers: [], guards: new Map() };
  if (!graph.node.some((n) => n.opType === "If" && isOnnx(n))) return { ...opened, nodes: [...graph.node] };
  const fresh = nameAllocator(graph);
  const topNames = new Set([...graph.input.map((v) => v.name), ...graph.initializer.map((t) => t.name), ...graph.node.flatMap((n) => n.output)]);
  const open = (nodes: readonly NodeProto[], rename: ReadonlyMap<string, string>, guards: Guard[], depth: number, visible: ReadonlySet<string> = topNames) => {
    const named = (x: string) => (x ? (rename.get(x) ?? x) : x);
    for (const n of nodes) {
      const input = n.input.map(named);
      const output = n.output.map(named);
      if (n.opType !== "If" || !isOnnx(n)) {
        opened.nodes.push(n.input.every((x, i) => x === input[i]) && n.output.every((x, i) => x === output[i]) ? n : { ...n, input, output });
        continue;
      }
      if (depth >= MAX_SUBGRAPH_DEPTH) throw new Uncovered(`If node ${n.name}: branches nested deeper than ${MAX_SUBGRAPH_DEPTH}`);
      const picked: string[][] = [];
      for (const then of [true, false]) {
        const branch = n.attribute.find((a) => a.name === (then ? "then_branch" : "else_branch"))?.g;
        if (!branch) throw new Uncovered(`If node ${n.name} lacks its ${then ? "then" : "else"} branch`);
        if (branch.input.length > 0) throw new Uncovered(`If node ${n.name}: a branch with inputs`);
        if (branch.sparseInitializer.length > 0) throw new Uncovered(`If node ${n.name}: a branch with sparse initializers`);
        if (branch.output.length !== n.output.length) throw new Uncovered(`If node ${n.name}: a branch with ${branch.output.length} outputs for ${n.output.length}`);
        // An initializer under a name an enclosing graph defines: onnxruntime reads the outer value there, scoping
        // rules would read the branch's; the model goes to onnxruntime-web, which defines what it computes.
        const shadowing = branch.initializer.find((t) => visible.has(t.name));
        if (shadowing) throw new Uncovered(`If node ${n.name}: the branch's initializer '${shadowing.name}' has the name of an outer value`);
        // Names the branch defines get fresh ones; the names it reads from outer scopes keep theirs.
        const inner = new Map(rename);
        for (const t of branch.initializer) inner.set(t.name, fresh(t.name));
        for (const b of branch.node) for (const o of b.output) if (o) inner.set(o, fresh(o));
        const branchGuards = [...guards, { cond: input[0]!, then, node: n.name }];
        for (const t of branch.initializer) opened.initializers.push({ ...t, name: inner.get(t.name)! });
        for (const b of branch.node) for (const o of b.output) if (o) opened.guards.set(inner.get(o)!, branchGuards);
        open(branch.node, inner, branchGuards, depth + 1, new Set([...visible, ...branch.initializer.map((t) => t.name), ...branch.node.flatMap((b) => b.output)]));
        picked.push(branch.output.map((o) => inner.get(o.name) ?? o.name));
      }
      opened.nodes.push(create(NodeProtoSchema, { opType: "If", name: n.name, input: [input[0]!, ...picked[0]!, ...picked[1]!], output }));
      if (guards.length > 0) for (const o of output) if (o) opened.guards.set(o, guards);
    }
  };
  open(graph.node, new Map(), [], 0);
  return opened;
}

/** An If's condition as planning folded it: a tensor of one element, true when not 0. */
export function conditionOf(c: Constant, node: string): boolean {
  const values = numbersOf(c);
  if (values.length !== 1) throw new Uncovered(`If node ${node || "(unnamed)"}: a condition of ${values.length} elements`);
  return values[0] !== 0;
}

/** The guards of a node (those of the first value it writes; fused nodes keep their chain's last output). */
export function guardsOf(node: NodeProto, guards: ReadonlyMap<string, Guard[]>): Guard[] | undefined {
  for (const o of node.output) if (o) return guards.get(o);
  return undefined;
}

const isOnnx = (n: NodeProto) => n.domain === "" || n.domain === "ai.onnx";

/** Elements a control input may hold: a scalar or a few flags, never data. */
export const MAX_CONTROL_ELEMENTS = 16;

/**
 * The graph inputs whose values some If condition is computed from (through any nodes but Shape and Size, which read
 * only dims), among those of fixed declared shape and at most MAX_CONTROL_ELEMENTS elements: what planning takes as
 * constants so that the condition folds.
 */
export function controlInputs(nodes: readonly NodeProto[], guards: ReadonlyMap<string, Guard[]>, inputs: readonly ValueInfoProto[]): string[] {
  const small = new Set(inputs.filter((v) => (fixedElements(v) ?? Infinity) <= MAX_CONTROL_ELEMENTS).map((v) => v.name));
  if (small.size === 0) return [];
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output) if (o) producer.set(o, n);
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (!name || seen.has(name)) return;
    seen.add(name);
    if (small.has(name)) found.add(name);
    const n = producer.get(name);
    if (!n || n.opType === "Shape" || n.opType === "Size") return;
    for (const i of n.input) visit(i);
  };
  for (const list of guards.values()) for (const g of list) visit(g.cond);
  return inputs.filter((v) => found.has(v.name)).map((v) => v.name);
}

/** Elements of an input whose declared dims are all fixed, else undefined. */
function fixedElements(v: ValueInfoProto): number | undefined {
  const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  if (!tt?.shape) return undefined;
  let n = 1;
  for (const d of tt.shape.dim) {
    if (d.value.case !== "dimValue" || Number(d.value.value) < 0) return undefined;
    n *= Number(d.value.value);
  }
  return n;
}

/** A control input's value as a constant of its declared element type (the feed arrives as float32). */
export function controlConstant(elemType: number, dims: readonly number[], values: Float32Array): Constant {
  switch (elemType) {
    case DT.INT64:
      return { dims: [...dims], dtype: DT.INT64, data: BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))) };
    case DT.INT32:
      return { dims: [...dims], dtype: DT.INT32, data: Int32Array.from(values, Math.trunc) };
    case DT.BOOL:
      return { dims: [...dims], dtype: DT.BOOL, data: Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)) };
    default:
      return { dims: [...dims], dtype: DT.FLOAT, data: Float32Array.from(values) };
  }
}
