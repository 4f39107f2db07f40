// The kernel engine: runs a model's graph with our WebAssembly kernels when every node is covered by the operator
// registry (ops/registry.ts); otherwise says why not, and the model runs on onnxruntime-web. Weights are packed once
// at load into the instance's memory (compressed forms stay compressed); each run's activations go in an arena after
// them, laid out per input shape from the values' lifetimes (arena.ts), so values not alive at once share memory.
// Plans are specialised per input shape: shape arithmetic (Shape and what computes on it) folds to constants for that
// shape, so graphs exported with dynamic shapes plan like static ones (and per value of the small inputs an If's
// condition is computed from: branches.ts). A node whose plan did not read any shape is planned once and shared by
// every specialisation; the specialisations themselves are kept in a small LRU.
import { clone } from "@bufbuild/protobuf";
import { GraphProtoSchema, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from "onnx-buf";
import { DT, dtypeName } from "../../onnx/dtype";
import { halfValues, toHalf } from "../../onnx/encoding";
import { weightedOperator } from "../../onnx/operators";
import { densifyInitializers } from "../../onnx/sparse";
import { defaultOpset } from "../../onnx/validate";
import { KernelInstance } from "../wasm/runtime";
import { checkOutputSizes, type CheckedTensor } from "../inputs";
import type { Epilogue, OpPlan, PlanContext, ValueMark } from "./op";
import { OPS } from "./ops/registry";
import { absorbActivation, absorbDequantize, absorbEpilogue } from "./epilogue";
import { LimitError } from "../../onnx/limits";
import { checkNodeAttributes } from "./attributes";
import { fuseGraph } from "./fusion";
import { conditionOf, controlConstant, controlInputs, guardsOf, openBranches, type Guard } from "./branches";
import { heldBytes, lazyConstant, materialize, releaseConstant, RunState, sizeOf, Uncovered, WeightNotLoaded, type Activation, type Constant, type FetchedBytes, type Liveness } from "./values";
import { skeletonRange, type ByteSource } from "../../onnx/skeleton";
import type { ArenaPlan } from "./arena";

export { Uncovered };

/** One output of a run: float32 unless the graph declares an integer, bool or float16 (its half bits) output. */
export interface EngineOutput {
  type: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/** Milliseconds per node of one run (`profile`), in execution order. */
export interface NodeTiming {
  node: string;
  op: string;
  ms: number;
}

export interface KernelSession {
  readonly engine: "kernels";
  /** Bytes the session holds: its instance's memory (packed weights plus the largest activation arena a plan or run
   * has needed) and the constants it keeps in JS (heldBytes). */
  readonly residentBytes: number;
  /** Bytes of the activation arena the last run used: its plan's peak (more only where shapes followed the data). */
  readonly arenaBytes: number;
  /** Bytes of packed weights alone. */
  readonly weightBytes: number;
  /** Bytes of constants kept in JS besides kernel memory (those a later input shape plans from again); in residentBytes. */
  readonly heldBytes: number;
  /** Kernel chosen for each linear layer, by node name (what a variant record reports). */
  readonly kernels: Record<string, string>;
  run(inputs: Record<string, CheckedTensor>, options?: RunOptions): Promise<Record<string, EngineOutput>>;
  release(): Promise<void>;
}

/** How one run is asked for: each node's time appended to `profile`; the arena within `arenaBudget` bytes. */
export interface RunOptions {
  profile?: NodeTiming[];
  /** Bytes of activations the run may hold at once (runArenaBudget); MAX_RUN_ARENA_BYTES when absent. */
  arenaBudget?: number;
}

interface Step {
  node: NodeProto;
  /** The node's position in the planner's order (what liveness counts in). */
  at: number;
  outputs: string[];
  run: (run: RunState) => Activation[];
}

/** A plan for one set of input shapes. */
interface Specialisation {
  steps: Step[];
  /** The arena's layout, from a trace of every step; null until one ran (the next run then traces it). */
  arena: ArenaPlan | null;
}

/** A node's plan, shared by later specialisations while the constants it read are the same (objects, or values). */
interface Memo {
  readsShape: boolean;
  constants: (Constant | undefined)[];
  plan: OpPlan;
  absorbed: { node: NodeProto; constants: (Constant | undefined)[] }[];
  kernel?: string;
}

/** Element types a graph input or output may have: run-time values are float32, exact for integers below 2^24. */
// float16 values are carried in float32, as integers are: widened exactly at the inputs, rounded to half at the outputs.
const VALUE_TYPES = new Set<number>([DT.FLOAT, DT.FLOAT16, DT.INT64, DT.INT32, DT.BOOL]);
const EXACT = 2 ** 24;
/** Specialisations kept per session (distinct input shapes in use at once). */
export const SPECIALISATIONS = 8;

/** Nodes in dependency order (Kahn's algorithm: linear in nodes and edges; validation has ruled out cycles).
 * `alsoReads` names values a node depends on besides its inputs (the conditions of the Ifs a branch node is under). */
export function topoOrder(nodes: readonly NodeProto[], available: ReadonlySet<string>, alsoReads: (n: NodeProto) => readonly string[] = () => []): NodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const waiting = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const name of new Set([...n.input, ...alsoReads(n)])) {
      if (!name || available.has(name)) continue;
      const p = producer.get(name);
      if (p === undefined) throw new Uncovered(`node ${label(n)} reads '${name}', which no node produces`);
      waiting[i]!++;
      dependents[p]!.push(i);
    }
  });
  // Nodes without inputs (Constants) first: a linear op then sees its epilogue's bounds as constants and fuses them.
  // A Constant in an If branch waits for the condition (it is queued once that is computed).
  const ready: number[] = [];
  nodes.forEach((n, i) => waiting[i] === 0 && n.input.every((x) => !x) && ready.push(i));
  waiting.forEach((w, i) => w === 0 && nodes[i]!.input.some((x) => x) && ready.push(i));
  const order: NodeProto[] = [];
  for (let head = 0; head < ready.length; head++) {
    const i = ready[head]!;
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) ready.push(d);
  }
  if (order.length !== nodes.length) throw new Uncovered("graph has a cycle");
  return order;
}

/** Single-consumer steps after a node that a linear op may absorb into its epilogue (Add, Mul, BN, Relu, Clip); the
 * walk stops at the next weighted op, which is never absorbed. */
const ABSORBED_CHAIN = 4;

/**
 * The order with every node computed from constants alone (a weight's DequantizeLinear, Transpose or Reshape, a
 * Constant) moved to just before the first node that reads it or whose absorbable chain reads it. Planning then
 * decodes a weight, packs it and releases it before the next one is decoded (and a ranged load reads it then), where
 * Kahn's order would fold every weight first. Topological still: a folded node follows what it reads.
 */
export function foldsNearUse(order: readonly NodeProto[], initializers: ReadonlySet<string>, alsoReads: (n: NodeProto) => readonly string[] = () => []): NodeProto[] {
  const constant = new Set(initializers);
  const producer = new Map<string, NodeProto>();
  const folds = new Set<NodeProto>();
  const consumers = readersOf(order);
  for (const n of order) {
    if (!n.input.every((i) => !i || constant.has(i))) continue;
    folds.add(n);
    for (const o of n.output) if (o) (constant.add(o), producer.set(o, n));
  }
  if (folds.size === 0) return [...order];
  const out: NodeProto[] = [];
  const emitted = new Set<NodeProto>();
  // What a node needs computed before it: an If's condition above it, then its inputs.
  const reads = (n: NodeProto) => [...alsoReads(n), ...n.input];
  // Emits the folds that produce `name`, producers first (an explicit stack: a hostile chain may be long).
  const emit = (name: string) => {
    const stack: { node: NodeProto; reads: string[]; next: number }[] = [];
    const push = (value: string) => {
      const p = producer.get(value);
      if (p && !emitted.has(p)) (emitted.add(p), stack.push({ node: p, reads: reads(p), next: 0 }));
    };
    push(name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.reads.length) {
        const i = top.reads[top.next++];
        if (i) push(i);
      } else {
        out.push(top.node);
        stack.pop();
      }
    }
  };
  for (const n of order) {
    if (folds.has(n)) continue;
    let at = n;
    for (const i of reads(n)) if (i) emit(i);
    for (let d = 0; d < ABSORBED_CHAIN; d++) {
      const outs = at.output.filter((o) => o);
      const next = outs.length === 1 ? consumers.get(outs[0]!) : undefined;
      // A consumer under another If than this node's may be planned away: its folds wait for it.
      if (!next || next.length !== 1 || weightedOperator(next[0]!) || alsoReads(next[0]!).join() !== alsoReads(n).join()) break;
      at = next[0]!;
      for (const i of at.input) if (i) emit(i);
    }
    out.push(n);
  }
  for (const n of order) if (folds.has(n)) for (const o of n.output) if (o) emit(o); // folds nothing reads
  return out;
}

/** The nodes that read each value, each node once per value (linear in nodes and edges). */
function readersOf(nodes: readonly NodeProto[]): Map<string, NodeProto[]> {
  const readers = new Map<string, NodeProto[]>();
  for (const n of nodes)
    for (const i of new Set(n.input)) {
      if (!i) continue;
      const list = readers.get(i);
      if (list) list.push(n);
      else readers.set(i, [n]);
    }
  return readers;
}

/** Runs one step; a bound it exceeds is reported with the node and the outputs it was computing. */
function runStep(step: Step, run: RunState): Activation[] {
  try {
    return run.perform(step.outputs, step.at, () => step.run(run));
  } catch (err) {
    if (err instanceof LimitError) throw new LimitError(`node ${label(step.node)} computing '${step.outputs.join("', '")}': ${err.message}`);
    throw err;
  }
}

const label = (n: NodeProto) => n.name || `${n.opType}(${n.output[0] ?? ""})`;
const isOnnx = (n: NodeProto) => n.domain === "" || n.domain === "ai.onnx";

const elemType = (v: ValueInfoProto) => (v.type?.value.case === "tensorType" ? v.type.value.value.elemType : undefined);

/** Declared dims with symbolic or unknown dims set to `fill`. */
function declaredDims(v: ValueInfoProto, fill: number): number[] {
  const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  return (tt?.shape?.dim ?? []).map((d) => (d.value.case === "dimValue" && Number(d.value.value) > 0 ? Number(d.value.value) : fill));
}

/** What every specialisation of one model shares: the graph's facts, constants placed in memory, node memos. */
class Planner {
  readonly graph: GraphProto;
  readonly opset: number;
  readonly initializers = new Map<string, Constant>();
  readonly inputs: ValueInfoProto[];
  readonly order: NodeProto[];
  /** Each node's position in `order`. */
  readonly position = new Map<NodeProto, number>();
  readonly liveness: Liveness;
  readonly consumers: Map<string, NodeProto[]>;
  readonly graphOutputs: Set<string>;
  readonly placed = new Map<Constant, Activation>(); // constants copied into kernel memory for run-time use
  readonly memos = new Map<NodeProto, Memo>();
  readonly kernels: Record<string, string> = {};
  /** The Ifs each branch node is under, by the values it writes (branches.ts). */
  readonly guards: ReadonlyMap<string, Guard[]>;
  /** Inputs planned as constants, each value its own plan: those If conditions are computed from (branches.ts). */
  readonly controls: ReadonlySet<string>;

  constructor(
    stored: ModelProto,
    readonly kx: KernelInstance,
    fetched?: FetchedBytes,
  ) {
    // Pruned variants store mostly-zero weights as sparse initializers; the kernels pack them from dense views.
    const model = stored.graph ? densifyInitializers(stored) : stored;
    if (!model.graph) throw new Uncovered("model has no graph");
    // If branches opened up into the graph (branches.ts): their nodes guarded by the conditions above them.
    const opened = openBranches(model.graph);
    this.guards = opened.guards;
    // The planner's own copy of the graph without its weights, its bytes fields copied: decoding keeps them as views
    // into the model's bytes, which would otherwise stay alive as long as the session.
    this.graph = clone(GraphProtoSchema, { ...model.graph, node: opened.nodes, initializer: [], sparseInitializer: [] });
    this.opset = defaultOpset(model);
    for (const t of [...model.graph.initializer, ...opened.initializers]) this.initializers.set(t.name, lazyConstant(t, fetched));
    this.inputs = this.graph.input.filter((v) => !this.initializers.has(v.name));
    for (const v of [...this.inputs, ...this.graph.output]) {
      const t = elemType(v);
      if (t === undefined || !VALUE_TYPES.has(t)) throw new Uncovered(`'${v.name}' has element type ${t === undefined ? "unknown" : dtypeName(t)}`);
    }
    this.consumers = readersOf(this.graph.node);
    this.graphOutputs = new Set(this.graph.output.map((o) => o.name));
    const conditions = (n: NodeProto) => guardsOf(n, this.guards)?.map((g) => g.cond) ?? [];
    this.order = foldsNearUse(
      topoOrder(fuseGraph(this.graph.node, this.initializers, this.graphOutputs, this.opset), new Set([...this.initializers.keys(), ...this.inputs.map((v) => v.name)]), conditions),
      new Set(this.initializers.keys()),
      conditions,
    );
    // A node reads only its inputs (an absorbed node's other inputs are constants), so a value is dead after the last
    // node in this order that lists it: a step's or one planned away (a folded Shape), which only keeps it longer.
    const lastRead = new Map<string, number>();
    this.order.forEach((n, i) => {
      this.position.set(n, i);
      for (const name of n.input) if (name) lastRead.set(name, i);
    });
    this.liveness = { lastRead, kept: this.graphOutputs };
    this.controls = new Set(controlInputs(opened.nodes, this.guards, this.inputs));
    // A branch is planned when an input first takes it, perhaps long after load: an op the engine lacks in either
    // branch leaves the model to onnxruntime-web now rather than failing that input later.
    for (const n of this.order) {
      if (guardsOf(n, this.guards) && (!isOnnx(n) || !OPS[n.opType])) throw new Uncovered(`no kernel-engine op for ${n.opType} (node ${label(n)}, in an If branch)`);
    }
  }

  /** The key of the plan for these inputs: their dims, and the values of the control inputs. */
  planKey(dims: Record<string, readonly number[]>, feeds: Record<string, Float32Array>): string {
    const key = shapeKey(dims);
    return this.controls.size === 0 ? key : `${key}${JSON.stringify([...this.controls].map((c) => Array.from(feeds[c] ?? [])))}`;
  }

  /**
   * Plans the graph for the shapes of `feeds` (which also serve to trace the dims of activations that a node asks
   * for: the steps so far run on them, and their arena is freed again). With `complete`, every step is traced on them
   * for the arena's layout unless the feeds do not suit the steps (zeros where a step wants lengths); else the first
   * run lays it out. Traces keep within `budget` bytes of arena, as the run would. Throws Uncovered naming what is not
   * covered.
   */
  specialise(feeds: Record<string, Float32Array>, dims: Record<string, number[]>, complete: boolean, release = false, budget?: number): Specialisation {
    return drain(this.planSteps(feeds, dims, complete, release, budget));
  }

  /** specialise, yielding each node's position in `order` before planning it (where a ranged load reads ahead). */
  *planSteps(feeds: Record<string, Float32Array>, dims: Record<string, number[]>, complete: boolean, release: boolean, budget?: number): Generator<number, Specialisation, void> {
    const kx = this.kx;
    const constants = new Map(this.initializers);
    for (const v of this.inputs) if (this.controls.has(v.name)) constants.set(v.name, controlConstant(elemType(v)!, dims[v.name]!, feeds[v.name]!));
    const marks = new Map<string, ValueMark>(); // what planning knows of run-time values' elements
    const releases = release ? new Release(this.order, this.initializers, [...this.guards.values()].flatMap((gs) => gs.map((g) => g.cond))) : null;
    const absorbed = new Set<NodeProto>();
    const steps: Step[] = [];
    const traced = new Map<string, readonly number[]>(Object.entries(dims));
    let tracedSteps = 0;
    let arena = null as ArenaPlan | null; // the last trace's, the plan once it ran every step
    // Runs the steps planned so far on `feeds` (their arena freed again): the dims of every value, and the arena's plan.
    const trace = () => {
      const run = new RunState(kx, this.liveness, null, budget);
      try {
        run.feed(feeds, dims);
        for (const step of steps) {
          const outs = runStep(step, run);
          step.outputs.forEach((name, i) => traced.set(name, outs[i]!.dims));
        }
        tracedSteps = steps.length;
        arena = run.arena.toPlan();
      } finally {
        run.close();
      }
    };

    for (let at = 0; at < this.order.length; at++) {
      const node = this.order[at]!;
      if (absorbed.has(node)) continue;
      // A node in the branch an If does not take for these shapes is planned away (its values never exist).
      if (!this.inTakenBranch(node, constants)) continue;
      yield at;
      if (node.domain !== "" && node.domain !== "ai.onnx") throw new Uncovered(`node ${label(node)} is in domain '${node.domain}'`);
      const op = OPS[node.opType];
      if (!op) throw new Uncovered(`no kernel-engine op for ${node.opType} (node ${label(node)})`);
      try {
        checkNodeAttributes(node); // models stored before validation checked them
      } catch (err) {
        throw new Uncovered(`${node.opType} node ${label(node)}: ${(err as Error).message}`);
      }
      const constantsOf = (n: NodeProto) => n.input.map((i) => (i ? constants.get(i) : undefined));
      const ins = constantsOf(node);
      const memo = this.memos.get(node);
      let planned: OpPlan;
      if (memo && !memo.readsShape && same(memo.constants, ins) && memo.absorbed.every((a) => same(a.constants, constantsOf(a.node)))) {
        planned = memo.plan;
        for (const a of memo.absorbed) absorbed.add(a.node);
      } else {
        let readsShape = false;
        let kernel: string | undefined;
        const before = new Set(absorbed);
        // What the absorb* helpers read of the graph and record as taken.
        const facts = { consumers: this.consumers, graphOutputs: this.graphOutputs, constants, absorbed, opset: this.opset };
        const ctx: PlanContext = {
          node,
          opset: this.opset,
          kx,
          constant: (i) => ins[i],
          has: (i) => !!node.input[i],
          dims: (i) => {
            const name = node.input[i];
            if (!name) return undefined;
            const c = constants.get(name);
            if (c) return c.dims;
            readsShape = true;
            if (!traced.has(name) || tracedSteps < steps.length) trace();
            return traced.get(name);
          },
          input: (i) => {
            const name = node.input[i];
            if (!name) throw new Uncovered(`node ${label(node)} lacks input ${i}`);
            const c = constants.get(name);
            // A control input is fed like any other (its value is this plan's): no copy per value in kernel memory.
            if (!c || this.controls.has(name)) return (run) => run.values.get(name)!;
            const fixed = this.place(c);
            return () => fixed;
          },
          absorbActivation: () => absorbActivation(node, facts),
          absorbEpilogue: (channels, axis, rank, start) => absorbEpilogue(node, channels, axis, rank, facts, start),
          absorbDequantize: (grid) => absorbDequantize(node, grid, facts),
          noteKernel: (k) => {
            kernel = k;
          },
          mark: (i) => (node.input[i] ? marks.get(node.input[i]!) : undefined),
        };
        try {
          planned = op.plan(ctx);
        } catch (err) {
          if (err instanceof Uncovered) throw new Uncovered(`${node.opType} node ${label(node)}: ${err.message}`);
          throw err;
        }
        const newlyAbsorbed = [...absorbed].filter((n) => !before.has(n)).map((n) => ({ node: n, constants: constantsOf(n) }));
        this.memos.set(node, { readsShape, constants: ins, plan: planned, absorbed: newlyAbsorbed, kernel });
        if (kernel) this.kernels[label(node)] = kernel;
      }
      if (planned.kind === "constant") {
        planned.outputs.forEach((c, i) => node.output[i] && constants.set(node.output[i]!, c));
      } else {
        const outputs = planned.outputs ?? node.output.filter((o) => o);
        steps.push({ node, at: this.position.get(node)!, outputs, run: planned.run });
        // Binarized activations let a 1-bit layer run on XNOR-popcount; values on a static grid, a layer requantize exactly.
        const mark = planned.mark ?? (op.movesElements && node.input[0] ? marks.get(node.input[0]) : undefined);
        if (outputs[0] && mark) marks.set(outputs[0], mark);
      }
      releases?.planned(node, this.memos.get(node)!, constants);
    }
    for (const o of this.graph.output) {
      if (constants.has(o.name)) throw new Uncovered(`graph output '${o.name}' is a constant`);
    }
    yield this.order.length; // every weight a node reads is fetched before the kept ones are decoded
    releases?.finish(constants);
    if (complete && tracedSteps < steps.length) {
      try {
        trace();
      } catch (err) {
        if (err instanceof Uncovered) throw err;
      }
    }
    return { steps, arena: tracedSteps === steps.length ? arena : null };
  }

  /** Whether every If above the node takes the node's branch: each condition folded to a constant by now. */
  private inTakenBranch(node: NodeProto, constants: ReadonlyMap<string, Constant>): boolean {
    for (const g of guardsOf(node, this.guards) ?? []) {
      const c = constants.get(g.cond);
      if (!c) throw new Uncovered(`If node ${g.node || "(unnamed)"}: its condition '${g.cond}' is computed at run time`);
      if (conditionOf(c, g.node) !== g.then) return false;
    }
    return true;
  }

  /** Bytes of constants' values the planner still holds in JS (those some node may plan from again). */
  heldBytes(): number {
    const held = new Set<Constant>(this.initializers.values());
    for (const memo of this.memos.values()) if (memo.plan.kind === "constant") for (const c of memo.plan.outputs) held.add(c);
    let bytes = 0;
    for (const c of held) bytes += heldBytes(c);
    return bytes;
  }

  /** A constant's copy in kernel memory (float32), made once per session. */
  private place(c: Constant): Activation {
    let a = this.placed.get(c);
    if (!a) {
      // Inside a run it would land in the run's arena, which the next allocations reuse: ops resolve inputs at plan time.
      if (this.kx.running) throw new Error("a constant was placed in kernel memory during a run");
      const data = c.data instanceof Float32Array ? c.data : Float32Array.from(c.data as ArrayLike<number>, Number);
      a = { dims: c.dims, ptr: this.kx.put(data) };
      this.placed.set(c, a);
    }
    return a;
  }
}

/**
 * What a load drops once packed: a constant's JS values are released when every node that reads it has been planned
 * and will never be planned again, so that the session holds its weights once (in kernel memory) rather than also
 * decoded in JS. A node plans again when its plan read a shape or one of its constants is made anew per shape; its
 * plan is otherwise reused by identity (see `same`) without reading any value. Such "stable" constants are the
 * initializers and what stable nodes fold from them.
 */
class Release {
  /** Readers of each value name not planned yet (absorbed nodes count when their absorber is planned). */
  private readonly pending = new Map<string, number>();
  /** Value names that some node which plans again reads: their constants are kept. */
  private readonly replanned = new Set<string>();
  private readonly stable = new Set<Constant>();
  private readonly names = new Map<Constant, Set<string>>();
  private readonly released = new Set<Constant>();
  private readonly initializers: ReadonlySet<Constant>;

  /** `kept`: value names read outside any node's inputs (the conditions of Ifs, read again for each input shape). */
  constructor(order: readonly NodeProto[], initializers: ReadonlyMap<string, Constant>, kept: Iterable<string> = []) {
    for (const n of order) for (const i of new Set(n.input)) if (i) this.pending.set(i, (this.pending.get(i) ?? 0) + 1);
    for (const k of kept) this.replanned.add(k);
    this.initializers = new Set(initializers.values());
    for (const [name, c] of initializers) {
      this.stable.add(c);
      this.bind(name, c);
    }
  }

  private bind(name: string, c: Constant): void {
    const names = this.names.get(c) ?? new Set<string>();
    names.add(name);
    this.names.set(c, names);
  }

  planned(node: NodeProto, memo: Memo, constants: ReadonlyMap<string, Constant>): void {
    const readers = [{ node, constants: memo.constants }, ...memo.absorbed];
    const stable = !memo.readsShape && readers.every((r) => r.constants.every((c) => !c || this.stable.has(c)));
    if (memo.plan.kind === "constant") {
      const outputs = memo.plan.outputs;
      node.output.forEach((o, i) => {
        const c = outputs[i];
        if (!o || !c) return;
        this.bind(o, c);
        if (stable) this.stable.add(c);
      });
    }
    for (const r of readers)
      for (const name of new Set(r.node.input)) {
        if (!name) continue;
        if (!stable) this.replanned.add(name);
        this.pending.set(name, (this.pending.get(name) ?? 1) - 1);
        const c = constants.get(name);
        if (c) this.consider(c);
      }
  }

  /** After the last node: releases what no node read at all, and decodes every initializer kept (dropping the
   * model bytes it was read from). */
  finish(constants: ReadonlyMap<string, Constant>): void {
    for (const c of new Set(constants.values())) this.consider(c);
    for (const c of this.initializers) if (!this.released.has(c)) materialize(c);
  }

  private consider(c: Constant): void {
    if (this.released.has(c) || !this.stable.has(c)) return;
    const names = [...(this.names.get(c) ?? [])];
    if (names.some((n) => (this.pending.get(n) ?? 0) > 0 || this.replanned.has(n))) return;
    releaseConstant(c, names[0] ?? "?");
    this.released.add(c);
  }
}

/**
 * Whether a memo's constants serve again: each the same object, or (one that shape arithmetic made again for a new
 * input shape, such as a zero initial state sized by the batch) of the same type, dims and values. A node that reads
 * such a constant then keeps its plan and the weights it packed instead of packing them once more per shape.
 */
function same(a: readonly (Constant | undefined)[], b: readonly (Constant | undefined)[]): boolean {
  return a.length === b.length && a.every((c, i) => sameValue(c, b[i]));
}

function sameValue(a: Constant | undefined, b: Constant | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.quant || b.quant || a.dtype !== b.dtype || a.data.constructor !== b.data.constructor) return false;
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i]) || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Input values as float32 (the engine's run-time type); integers beyond 2^24 would not stay exact. */
function asFloat(name: string, t: CheckedTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.type === "float16" && t.data instanceof Uint16Array) {
    const table = halfValues();
    return Float32Array.from(t.data, (h) => table[h]!);
  }
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(t.data[i]!);
    if (Math.abs(v) > EXACT && Number.isInteger(v)) throw new RangeError(`input '${name}' holds ${v}, beyond the engine's exact integer range (2^24)`);
    out[i] = v;
  }
  return out;
}

/** A float32 result in the graph output's declared element type. */
function asDeclared(values: Float32Array, type: number): EngineOutput["data"] {
  switch (type) {
    case DT.INT64:
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case DT.INT32:
      return Int32Array.from(values, Math.trunc);
    case DT.BOOL:
      return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
    case DT.FLOAT16:
      return Uint16Array.from(values, toHalf);
    default:
      return values;
  }
}

const shapeKey = (dims: Record<string, readonly number[]>) => JSON.stringify(dims);

/**
 * Plans for the declared input shapes (symbolic dims at 1, else 32 or 224 where a model needs room, as image models
 * do): the load-time check that the engine covers the graph. Zero inputs serve to trace dims, and with `complete` to
 * lay out the arena (so a loaded session's resident bytes include it).
 */
function firstSpecialisation(planner: Planner, complete: boolean, release = false): First {
  return drain(firstSpecialisationSteps(planner, complete, release));
}

type First = { dims: Record<string, number[]>; feeds: Record<string, Float32Array>; spec: Specialisation };

/** firstSpecialisation as the steps of planSteps (each yields the position of the node it is about to plan). */
function* firstSpecialisationSteps(planner: Planner, complete: boolean, release: boolean): Generator<number, First, void> {
  let failure: unknown;
  for (const fill of [1, 32, 224]) {
    const dims = Object.fromEntries(planner.inputs.map((v) => [v.name, declaredDims(v, fill)]));
    const feeds = Object.fromEntries(planner.inputs.map((v) => [v.name, new Float32Array(sizeOf(dims[v.name]!))]));
    try {
      return { dims, feeds, spec: yield* planner.planSteps(feeds, dims, complete, release) };
    } catch (err) {
      if (err instanceof Uncovered || err instanceof WeightNotLoaded) throw err;
      failure = err; // a trace that did not fit these dims: try larger ones
    }
  }
  throw new Uncovered(`could not trace the graph's shapes: ${(failure as Error).message}`);
}

function drain<T>(steps: Generator<number, T, void>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Why the engine cannot run this model, or null when it can (cheap: plans against a scratch instance). */
export function kernelCoverage(model: ModelProto, module: WebAssembly.Module): string | null {
  try {
    firstSpecialisation(new Planner(model, new KernelInstance(module)), false);
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
  let planner: Planner;
  let first: First;
  try {
    planner = new Planner(model, kx);
    first = firstSpecialisation(planner, true, true);
  } catch (err) {
    if (err instanceof Uncovered) return { session: null, reason: err.message };
    throw err;
  }
  return { session: sessionOf(planner, kx, first), reason: null };
}

/** Nodes ahead of the one being planned whose weights a ranged load has already fetched (absorbed chains read ahead). */
export const READ_AHEAD_NODES = 24;

/**
 * createKernelSession from a model's skeleton (onnx/skeleton.ts), its weights read by range from `source` as the
 * planner reaches them and released once packed: the load holds the packed weights and a few nodes' weights in
 * flight, never the model's bytes. Null (with the reason) when some node is not covered; a weight read before its
 * bytes were fetched throws WeightNotLoaded (the caller then loads the bytes whole).
 */
export async function loadKernelSession(
  skeleton: ModelProto,
  module: WebAssembly.Module,
  source: ByteSource,
  readAhead = READ_AHEAD_NODES,
): Promise<{ session: KernelSession; reason: null } | { session: null; reason: string }> {
  const kx = new KernelInstance(module);
  const fetched = new Map<string, Uint8Array>();
  const take = (t: { name: string }) => {
    const bytes = fetched.get(t.name);
    if (!bytes) throw new WeightNotLoaded(`weight '${t.name}' was planned before its bytes were read`);
    fetched.delete(t.name);
    return bytes;
  };
  const ranged = new Map((skeleton.graph?.initializer ?? []).flatMap((t) => {
    const range = skeletonRange(t);
    return range ? [[t.name, range] as const] : [];
  }));
  let planner: Planner;
  let first: First;
  try {
    planner = new Planner(skeleton, kx, take);
    const order = planner.order;
    const requested = new Set<string>();
    let reached = 0;
    const readTo = async (end: number) => {
      for (; reached < Math.min(end, order.length); reached++)
        for (const name of order[reached]!.input) {
          const range = ranged.get(name);
          if (!range || requested.has(name)) continue;
          requested.add(name);
          fetched.set(name, await source.read(range.offset, range.length));
        }
    };
    const steps = firstSpecialisationSteps(planner, true, true);
    for (;;) {
      const next = steps.next();
      if (next.done) {
        first = next.value;
        break;
      }
      await readTo(next.value + readAhead);
    }
  } catch (err) {
    if (err instanceof Uncovered) return { session: null, reason: err.message };
    throw err;
  }
  fetched.clear(); // read for a node that never decoded it
  return { session: sessionOf(planner, kx, first), reason: null };
}

/** The session over a planned model (its first specialisation made). */
function sessionOf(planner: Planner, kx: KernelInstance, first: First): KernelSession {
  const specs = new Map<string, Specialisation>([[planner.planKey(first.dims, first.feeds), first.spec]]);
  const weightBytes = kx.mark() - kx.k.heap_base();
  const held = planner.heldBytes();
  const outputTypes = planner.graph.output.map((o) => [o.name, elemType(o)!] as const);
  let arenaBytes = specs.values().next().value!.arena?.peak ?? 0;
  const session: KernelSession = {
    engine: "kernels",
    get residentBytes() {
      return kx.residentBytes + held;
    },
    heldBytes: held,
    get arenaBytes() {
      return arenaBytes;
    },
    weightBytes,
    kernels: planner.kernels,
    async run(given, options) {
      const dims: Record<string, number[]> = {};
      const feeds: Record<string, Float32Array> = {};
      for (const v of planner.inputs) {
        const t = given[v.name];
        if (!t) throw new RangeError(`input '${v.name}' is missing`);
        dims[v.name] = [...t.dims];
        feeds[v.name] = asFloat(v.name, t);
      }
      const key = planner.planKey(dims, feeds);
      let spec = specs.get(key);
      if (spec) {
        specs.delete(key); // most recently used last
      } else {
        try {
          spec = planner.specialise(feeds, dims, false, false, options?.arenaBudget);
        } catch (err) {
          if (err instanceof Uncovered) throw new RangeError(`the kernel engine cannot run these inputs: ${err.message}`);
          throw err;
        }
        if (specs.size >= SPECIALISATIONS) specs.delete(specs.keys().next().value!);
      }
      specs.set(key, spec);
      const run = new RunState(kx, planner.liveness, spec.arena, options?.arenaBudget);
      try {
        run.feed(feeds, dims);
        const profile = options?.profile;
        // The output budget as each graph output is computed, so that a run over it stops there (413) rather than
        // computing the rest first.
        const produced: Record<string, { dims: readonly number[] }> = {};
        for (const step of spec.steps) {
          const t0 = profile ? performance.now() : 0;
          const outs = runStep(step, run);
          if (profile) profile.push({ node: label(step.node), op: step.node.opType, ms: performance.now() - t0 });
          let answered = false;
          step.outputs.forEach((name, i) => {
            if (planner.graphOutputs.has(name) && outs[i]) {
              produced[name] = outs[i]!;
              answered = true;
            }
          });
          if (answered) checkOutputSizes(produced);
        }
        spec.arena ??= run.arena.toPlan(); // this run traced the layout
        const result: Record<string, EngineOutput> = {};
        for (const [name, type] of outputTypes) {
          const a = run.values.get(name)!;
          result[name] = { type: dtypeName(type), dims: a.dims, data: asDeclared(run.view(a).slice(), type) };
        }
        return result;
      } finally {
        run.close();
        arenaBytes = run.arena.peak;
      }
    },
    async release() {},
  };
  return session;
}

export type { Epilogue };
export { sizeOf };
