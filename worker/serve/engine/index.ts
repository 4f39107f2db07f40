// The kernel engine: runs a model's graph with our WebAssembly kernels when every node is covered by the operator
// registry (ops/registry.ts); otherwise says why not, and the model runs on onnxruntime-web. Weights are packed once
// at load into the instance's memory (compressed forms stay compressed); each run allocates activations after them.
import type { ModelProto, NodeProto } from "onnx-buf";
import { DT } from "../../onnx/dtype";
import { densifyInitializers } from "../../onnx/sparse";
import { defaultOpset } from "../../onnx/validate";
import { KernelInstance } from "../wasm/runtime";
import type { CheckedTensor } from "../inputs";
import type { Epilogue, OpPlan, PlanContext } from "./op";
import { OPS } from "./ops/registry";
import { absorbEpilogue } from "./epilogue";
import { fuseGraph } from "./fusion";
import { readConstant, RunState, sizeOf, Uncovered, type Activation, type Constant } from "./values";

export { Uncovered };

export interface KernelSession {
  readonly engine: "kernels";
  /** Bytes of the instance's memory (packed weights plus the activation arena's high-water mark). */
  readonly residentBytes: number;
  /** Bytes of packed weights alone. */
  readonly weightBytes: number;
  /** Kernel chosen for each linear layer, by node name (what a variant record reports). */
  readonly kernels: Record<string, string>;
  run(inputs: Record<string, CheckedTensor>): Promise<Record<string, { type: string; dims: readonly number[]; data: Float32Array }>>;
  release(): Promise<void>;
}

interface Step {
  node: NodeProto;
  outputs: string[];
  run: (run: RunState) => Activation[];
}

/** Nodes in dependency order (graphs are usually sorted already; validation has ruled out cycles). */
function topoOrder(nodes: readonly NodeProto[], available: Set<string>): NodeProto[] {
  const done = new Set(available);
  const pending = [...nodes];
  const order: NodeProto[] = [];
  while (pending.length > 0) {
    const idx = pending.findIndex((n) => n.input.every((i) => i === "" || done.has(i)));
    if (idx < 0) throw new Uncovered("graph reads a tensor no node produces");
    const [n] = pending.splice(idx, 1);
    order.push(n!);
    for (const o of n!.output) if (o) done.add(o);
  }
  return order;
}

const label = (n: NodeProto) => n.name || `${n.opType}(${n.output[0] ?? ""})`;

/** Plans the whole graph, or throws Uncovered naming the first node the engine cannot run. */
function plan(stored: ModelProto, kx: KernelInstance) {
  // Pruned variants store mostly-zero weights as sparse initializers; the kernels pack them from dense views.
  const model = stored.graph ? densifyInitializers(stored) : stored;
  const graph = model.graph;
  if (!graph) throw new Uncovered("model has no graph");
  const opset = defaultOpset(model);
  const constants = new Map<string, Constant>();
  for (const t of graph.initializer) constants.set(t.name, readConstant(t));
  const inputs = graph.input.filter((v) => !constants.has(v.name));
  for (const v of inputs) {
    const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
    if (tt?.elemType !== DT.FLOAT) throw new Uncovered(`input '${v.name}' is not float32`);
  }
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const placed = new Map<string, Activation>(); // constants copied into kernel memory for run-time use
  const absorbed = new Set<NodeProto>();
  const steps: Step[] = [];
  const kernels: Record<string, string> = {};

  for (const node of topoOrder(fuseGraph(graph.node, constants, graphOutputs, opset), new Set([...constants.keys(), ...inputs.map((v) => v.name)]))) {
    if (absorbed.has(node)) continue;
    if (node.domain !== "" && node.domain !== "ai.onnx") throw new Uncovered(`node ${label(node)} is in domain '${node.domain}'`);
    const op = OPS[node.opType];
    if (!op) throw new Uncovered(`no kernel-engine op for ${node.opType} (node ${label(node)})`);
    const constantAt = (i: number) => (node.input[i] ? constants.get(node.input[i]!) : undefined);
    const ctx: PlanContext = {
      node,
      opset,
      kx,
      constant: constantAt,
      has: (i) => !!node.input[i],
      input(i) {
        const name = node.input[i];
        if (!name) throw new Uncovered(`node ${label(node)} lacks input ${i}`);
        const c = constants.get(name);
        if (!c) return (run) => run.values.get(name)!;
        let a = placed.get(name);
        if (!a) {
          const data = c.data instanceof Float32Array ? c.data : Float32Array.from(c.data as ArrayLike<number>, Number);
          a = { dims: c.dims, ptr: kx.put(data) };
          placed.set(name, a);
        }
        const fixed = a;
        return () => fixed;
      },
      absorbEpilogue: (channels, axis, rank, start) =>
        absorbEpilogue(node, channels, axis, rank, { consumers, graphOutputs, constants, absorbed, opset }, start),
      noteKernel: (kernel) => {
        kernels[label(node)] = kernel;
      },
    };
    let planned: OpPlan;
    try {
      planned = op.plan(ctx);
    } catch (err) {
      if (err instanceof Uncovered) throw new Uncovered(`${node.opType} node ${label(node)}: ${err.message}`);
      throw err;
    }
    if (planned.kind === "constant") {
      planned.outputs.forEach((c, i) => node.output[i] && constants.set(node.output[i]!, c));
    } else {
      steps.push({ node, outputs: planned.outputs ?? node.output.filter((o) => o), run: planned.run });
    }
  }
  for (const o of graph.output) {
    if (constants.has(o.name)) throw new Uncovered(`graph output '${o.name}' is a constant`);
  }
  return { steps, inputs: inputs.map((v) => v.name), outputs: graph.output.map((o) => o.name), kernels };
}

/** Why the engine cannot run this model, or null when it can (cheap: plans against a scratch instance). */
export function kernelCoverage(model: ModelProto, module: WebAssembly.Module): string | null {
  try {
    plan(model, new KernelInstance(module));
    return null;
  } catch (err) {
    if (err instanceof Uncovered) return err.message;
    throw err;
  }
}

/** Loads the model onto a fresh kernel instance; null (with the reason) when some node is not covered. */
export function createKernelSession(
  model: ModelProto,
  module: WebAssembly.Module,
): { session: KernelSession; reason: null } | { session: null; reason: string } {
  const kx = new KernelInstance(module);
  let planned;
  try {
    planned = plan(model, kx);
  } catch (err) {
    if (err instanceof Uncovered) return { session: null, reason: err.message };
    throw err;
  }
  const { steps, inputs, outputs, kernels } = planned;
  const weightBytes = kx.mark() - kx.k.heap_base();
  const base = kx.mark();
  const session: KernelSession = {
    engine: "kernels",
    get residentBytes() {
      return kx.residentBytes;
    },
    weightBytes,
    kernels,
    async run(given) {
      const run = new RunState(kx);
      try {
        for (const name of inputs) {
          const t = given[name];
          if (!t || !(t.data instanceof Float32Array)) throw new RangeError(`input '${name}' must be float32`);
          const a = run.alloc([...t.dims]);
          run.view(a).set(t.data);
          run.values.set(name, a);
        }
        for (const step of steps) {
          const outs = step.run(run);
          step.outputs.forEach((name, i) => run.values.set(name, outs[i]!));
        }
        const result: Record<string, { type: string; dims: readonly number[]; data: Float32Array }> = {};
        for (const name of outputs) {
          const a = run.values.get(name)!;
          result[name] = { type: "float32", dims: a.dims, data: run.view(a).slice() };
        }
        return result;
      } finally {
        kx.reset(base);
      }
    },
    async release() {},
  };
  return { session, reason: null };
}

export type { Epilogue };
export { sizeOf };
