// Fresh tensor/node names for graph rewrites: a wanted name, suffixed `_1`, `_2`, ... until unused anywhere in the
// graph or its bodies (which read outer names).
import type { GraphProto } from "onnx-buf";

function takenNames(graph: GraphProto, taken: Set<string>): void {
  for (const t of graph.initializer) taken.add(t.name);
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) taken.add(v.name);
  for (const n of graph.node) {
    taken.add(n.name);
    for (const x of [...n.input, ...n.output]) taken.add(x);
    for (const a of n.attribute) for (const g of a.g ? [a.g, ...a.graphs] : a.graphs) takenNames(g, taken);
  }
}

export function nameAllocator(graph: GraphProto): (wanted: string) => string {
  const taken = new Set<string>();
  takenNames(graph, taken);
  return (wanted) => {
    let name = wanted;
    for (let i = 1; taken.has(name); i++) name = `${wanted}_${i}`;
    taken.add(name);
    return name;
  };
}
