// If nodes opened up for planning: each branch's nodes join the graph under fresh names, guarded by the If's
// condition, and the If itself becomes a selection between the two branches' outputs (its inputs: the condition, then
// branch's outputs, else branch's). Planning folds the condition for the input shapes at hand (a constant, or shape
// arithmetic) and plans only the branch it chooses; a condition computed at run time leaves the model to
// onnxruntime-web. Branches nested in branches open up the same way, each node guarded by every If above it.
import { create } from "@bufbuild/protobuf";
import { NodeProtoSchema, type GraphProto, type NodeProto, type TensorProto } from "onnx-buf";
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
  const open = (nodes: readonly NodeProto[], rename: ReadonlyMap<string, string>, guards: Guard[], depth: number) => {
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
        // Names the branch defines get fresh ones; the names it reads from outer scopes keep theirs.
        const inner = new Map(rename);
        for (const t of branch.initializer) inner.set(t.name, fresh(t.name));
        for (const b of branch.node) for (const o of b.output) if (o) inner.set(o, fresh(o));
        const branchGuards = [...guards, { cond: input[0]!, then, node: n.name }];
        for (const t of branch.initializer) opened.initializers.push({ ...t, name: inner.get(t.name)! });
        for (const b of branch.node) for (const o of b.output) if (o) opened.guards.set(inner.get(o)!, branchGuards);
        open(branch.node, inner, branchGuards, depth + 1);
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
