// One name, one tensor: a pure pass that renames what a body (If branch, Loop or Scan body) defines under a name a
// sibling or cousin body also defines. ONNX scopes names per graph, so two branches may each hold an initializer `w`;
// passes that key weights by name (the quantizer's readers, constant folding's reader counts) would read both as one
// tensor. The first body to define a name, in graph and attribute order, keeps it; the ones after take `name_1`,
// `name_2`, ..., with every read that resolves to them rewritten. The top graph keeps its names (the model's
// interface). A body that redefines a name of a graph enclosing it is left as it is: runtimes disagree on which one
// its nodes read (onnxruntime reads the outer one). A model without such names comes back as the same object.
import type { GraphProto, ModelProto, NodeProto } from "onnx-buf";
import { edited } from "./edit";
import { nameAllocator } from "./names";
import { subgraphsOf } from "./operators";

/** The names a graph itself defines: its inputs, initializers and node outputs. */
function definedIn(graph: GraphProto): Set<string> {
  const out = new Set<string>();
  for (const v of graph.input) out.add(v.name);
  for (const t of graph.initializer) out.add(t.name);
  for (const n of graph.node) for (const o of n.output) if (o) out.add(o);
  return out;
}

function countDefinitions(graph: GraphProto, counts: Map<string, number>): void {
  for (const name of definedIn(graph)) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const n of graph.node) for (const g of subgraphsOf(n)) countDefinitions(g, counts);
}

export function distinctScopeNames(model: ModelProto): ModelProto {
  const graph = model.graph;
  if (!graph) return model;
  const counts = new Map<string, number>();
  countDefinitions(graph, counts);
  if (![...counts.values()].some((c) => c > 1)) return model;
  const fresh = nameAllocator(graph);
  const kept = new Set<string>();

  const rename = (g: GraphProto, outer: ReadonlyMap<string, string>, enclosing: ReadonlySet<string>, top: boolean): GraphProto => {
    const scope = new Map(outer);
    const own = definedIn(g);
    for (const name of own) {
      if (!top && kept.has(name) && !enclosing.has(name)) {
        scope.set(name, fresh(name));
      } else {
        kept.add(name);
        scope.delete(name);
      }
    }
    const inner = new Set([...enclosing, ...own]);
    const to = (name: string) => (name ? (scope.get(name) ?? name) : name);
    const renamed = <T extends { name: string }>(v: T): T => (scope.has(v.name) ? edited(v, { name: to(v.name) } as Partial<T>) : v);
    let changed = false;
    const node = g.node.map((n): NodeProto => {
      const input = n.input.map(to);
      const output = n.output.map(to);
      let attribute = n.attribute;
      if (subgraphsOf(n).length > 0) {
        attribute = n.attribute.map((a) => {
          if (a.g) {
            const body = rename(a.g, scope, inner, false);
            return body === a.g ? a : edited(a, { g: body });
          }
          if (a.graphs.length > 0) {
            const bodies = a.graphs.map((b) => rename(b, scope, inner, false));
            return bodies.every((b, i) => b === a.graphs[i]) ? a : edited(a, { graphs: bodies });
          }
          return a;
        });
      }
      const same = input.every((x, i) => x === n.input[i]) && output.every((x, i) => x === n.output[i]) && attribute.every((a, i) => a === n.attribute[i]);
      if (same) return n;
      changed = true;
      return edited(n, { input, output, attribute });
    });
    const initializer = g.initializer.map(renamed);
    const input = g.input.map(renamed);
    const output = g.output.map(renamed);
    const valueInfo = g.valueInfo.map(renamed);
    const lists = [
      [initializer, g.initializer],
      [input, g.input],
      [output, g.output],
      [valueInfo, g.valueInfo],
    ] as const;
    if (!changed && lists.every(([a, b]) => a.every((x, i) => x === b[i]))) return g;
    return edited(g, { node, initializer, input, output, valueInfo });
  };

  const out = rename(graph, new Map(), new Set(), true);
  return out === graph ? model : edited(model, { graph: out });
}
