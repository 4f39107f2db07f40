// Cross-layer range equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
// Correction"): for two weighted layers in a row with only positive-homogeneous ops between them, output channel i of
// the first is divided by s_i and input channel i of the second multiplied by it, which leaves the FP32 function as it
// was and, with s_i = sqrt(r1_i / r2_i), gives both the same range sqrt(r1_i * r2_i) per channel. Pure: a model in, a
// model out (the same object when no pair is found), run on float weights before quantization.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { AttributeProto_AttributeType as AT } from "onnx-buf";
import { floatAttribute, intAttribute } from "../onnx/attributes";
import { makeNode } from "../onnx/builders";
import { DT } from "../onnx/dtype";
import { edited } from "../onnx/edit";
import { nameAllocator } from "../onnx/names";
import { nodeLabel, subgraphsOf } from "../onnx/operators";
import { elementCount, isExternal, makeTensor, readFloat32, tensorDims } from "../onnx/tensor";
import { defaultOpset } from "../onnx/validate";

/** Sweeps over every pair of a graph at most (Gauss-Seidel, pair by pair in graph order, as the paper iterates). */
export const MAX_SWEEPS = 30;
/** A sweep whose largest per-channel factor moves a scale by less than this (|ln f|) ends the iteration. */
export const SWEEP_TOLERANCE = 1e-4;
/** Ops between the two layers at most (activation, pooling, flatten, bias add, ...). */
const MAX_STEPS = 8;

/** One equalized pair, for the report. */
export interface EqualizedPair {
  /** Node labels of the first layer (its output channels divided) and the second (its input channels multiplied). */
  first: string;
  second: string;
  /** Op types between them, in order. */
  through: string[];
  channels: number;
  /**
   * The spread (largest over smallest nonzero) of the per-channel ranges the pair shares, before and after: the
   * larger of r1's (output channels of the first) and r2's (input channels of the second). Equal ranges give 1.
   */
  spreadBefore: number;
  spreadAfter: number;
}

export interface EqualizeResult {
  model: ModelProto;
  pairs: EqualizedPair[];
  /** Sweeps run, the largest over the model's graphs (0 when no pair was found). */
  sweeps: number;
}

/** A weighted node whose float weight only it reads, seen as `outs` x (`per` inputs x `inner` kernel elements). */
interface Layer {
  node: NodeProto;
  /** "spatial": Conv, channels on axis 1 of its rank-`rank` output; "features": Gemm/MatMul, channels on the last axis. */
  space: "spatial" | "features";
  rank: number;
  weight: TensorProto;
  /** The weight's values, read when the layer joins a pair (readFloat32 copies; most candidates join none). */
  values: Float32Array | null;
  outs: number;
  ins: number;
  /** Input channels per group, and output channels per group (Conv `group`; 1 group otherwise). */
  per: number;
  groupOuts: number;
  inner: number;
  oStride: number;
  pStride: number;
  kStride: number;
  /** The per-output-channel bias (Conv's B, Gemm's C of N elements), null when absent. */
  bias: TensorProto | null;
  /** False when a bias is present that cannot be scaled per channel (shared, broadcast, not float): never a first layer. */
  biasScalable: boolean;
  /** Divisors of the output channels (the pair this layer starts) and multipliers of the input channels (the pair it ends). */
  sOut: Float64Array | null;
  sIn: Float64Array | null;
  /** cellRanges, once computed. */
  cells: Float32Array | null;
}

/** What lies between the two layers and how it follows a per-channel scale. */
type Step =
  | { kind: "keep"; node: NodeProto }
  | { kind: "bound"; node: NodeProto; max: number }
  | { kind: "constant"; node: NodeProto; tensors: TensorProto[] };

interface Pair {
  first: Layer;
  second: Layer;
  steps: Step[];
  s: Float64Array;
}

/** Uses of each name over the whole model: node inputs in every graph, graph outputs. */
function countUses(graph: GraphProto, uses: Map<string, number>): void {
  for (const n of graph.node) {
    for (const i of n.input) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const g of subgraphsOf(n)) countUses(g, uses);
  }
  for (const o of graph.output) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
}

/** Every name a body (and its bodies) reads: tensors of the outer graph read there have a reader we do not follow. */
function bodyReads(graph: GraphProto, into: Set<string>): void {
  for (const n of graph.node) {
    for (const i of n.input) if (i) into.add(i);
    for (const g of subgraphsOf(n)) bodyReads(g, into);
  }
}

const isDefault = (node: NodeProto) => node.domain === "" || node.domain === "ai.onnx";

/** Float data of an initializer this graph holds, read by exactly one node input. */
function ownFloat(name: string | undefined, inits: ReadonlyMap<string, TensorProto>, uses: ReadonlyMap<string, number>): TensorProto | null {
  if (!name) return null;
  const t = inits.get(name);
  if (!t || t.dataType !== DT.FLOAT || isExternal(t) || uses.get(name) !== 1) return null;
  return t;
}

/** The node as a layer (Conv, Gemm, MatMul with a constant right operand), or null. */
function layerOf(node: NodeProto, inits: ReadonlyMap<string, TensorProto>, uses: ReadonlyMap<string, number>): Layer | null {
  if (!isDefault(node)) return null;
  const weight = ownFloat(node.input[1], inits, uses);
  if (!weight || inits.has(node.input[0] ?? "")) return null;
  const dims = tensorDims(weight);
  const biasName = node.input[2];
  const biasTensor = (shapes: number[][]) => {
    if (!biasName) return { bias: null, biasScalable: true };
    const b = ownFloat(biasName, inits, uses);
    const ok = b !== null && shapes.some((s) => s.length === b.dims.length && s.every((d, i) => d === Number(b.dims[i])));
    return { bias: ok ? b : null, biasScalable: ok };
  };
  if (node.opType === "Conv" && dims.length >= 3) {
    const groups = intAttribute(node, "group", 1);
    const [outs, per] = dims as [number, number];
    if (groups < 1 || outs % groups !== 0) return null;
    const inner = elementCount(dims.slice(2));
    return {
      node, space: "spatial", rank: dims.length, weight, values: null,
      outs, ins: per * groups, per, groupOuts: outs / groups, inner, oStride: per * inner, pStride: inner, kStride: 1,
      ...biasTensor([[outs]]),
      sOut: null, sIn: null, cells: null,
    };
  }
  if ((node.opType === "Gemm" || node.opType === "MatMul") && dims.length === 2) {
    if (node.opType === "MatMul" && node.input.length !== 2) return null;
    const transB = node.opType === "Gemm" && intAttribute(node, "transB", 0) === 1;
    const [d0, d1] = dims as [number, number];
    const [outs, ins] = transB ? [d0, d1] : [d1, d0];
    return {
      node, space: "features", rank: 2, weight, values: null,
      outs, ins, per: ins, groupOuts: outs, inner: 1, oStride: transB ? ins : 1, pStride: transB ? 1 : outs, kStride: 1,
      ...biasTensor([[outs], [1, outs]]),
      sOut: null, sIn: null, cells: null,
    };
  }
  return null;
}

/** A scalar float constant (an initializer in scope), or undefined when absent, null when not a constant scalar. */
function scalar(name: string | undefined, scope: ReadonlyMap<string, TensorProto>): number | undefined | null {
  if (!name) return undefined;
  const t = scope.get(name);
  if (!t || t.dataType !== DT.FLOAT || isExternal(t) || elementCount(tensorDims(t)) !== 1) return null;
  return readFloat32(t)[0]!;
}

/** Whether a constant holds one value per channel where `space` puts the channels (right-aligned broadcast). */
function perChannel(t: TensorProto, channels: number, space: Layer["space"], rank: number): boolean {
  const dims = tensorDims(t);
  if (elementCount(dims) !== channels) return false;
  const at = space === "features" ? dims.length - 1 : 1 - (rank - dims.length);
  return at >= 0 && dims.every((d, i) => (i === at ? d === channels : d === 1));
}

interface GraphView {
  inits: Map<string, TensorProto>;
  scope: Map<string, TensorProto>;
  consumers: Map<string, { node: NodeProto; index: number }[]>;
  outputs: Set<string>;
  hidden: Set<string>;
  uses: ReadonlyMap<string, number>;
  opset: number;
}

/** The chain from a first layer's output to the one node that takes it as a second layer, or null. */
function chainFrom(first: Layer, view: GraphView): { steps: Step[]; second: Layer } | null {
  const steps: Step[] = [];
  let tensor = first.node.output[0];
  let space = first.space;
  let pooled = false;
  for (let depth = 0; depth <= MAX_STEPS && tensor; depth++) {
    if (view.outputs.has(tensor) || view.hidden.has(tensor)) return null;
    const readers = view.consumers.get(tensor) ?? [];
    if (readers.length !== 1) return null;
    const { node, index } = readers[0]!;
    if (!isDefault(node)) return null;
    const op = node.opType;
    const singleOutput = node.output.filter((o) => o).length === 1;
    if ((op === "Conv" || op === "Gemm" || op === "MatMul") && index === 0) {
      if (op === "Conv" ? space !== "spatial" : space !== "features") return null;
      if (op === "Gemm" && intAttribute(node, "transA", 0) !== 0) return null;
      const second = layerOf(node, view.inits, view.uses);
      if (!second || second.ins !== first.outs) return null;
      return { steps, second };
    }
    if (index !== 0 && op !== "Add") return null;
    switch (op) {
      case "Relu":
      case "LeakyRelu":
      case "Identity":
        steps.push({ kind: "keep", node });
        break;
      case "Dropout":
        // Inference: the identity, as long as no mask is read and no training flag is given.
        if (!singleOutput || node.input.length > 2) return null;
        steps.push({ kind: "keep", node });
        break;
      case "MaxPool":
      case "AveragePool":
      case "GlobalAveragePool":
      case "GlobalMaxPool":
        if (space !== "spatial" || !singleOutput) return null;
        pooled ||= op.startsWith("Global");
        steps.push({ kind: "keep", node });
        break;
      case "Flatten":
        // After a global pool each channel is one feature, at its own index.
        if (space !== "spatial" || !pooled || intAttribute(node, "axis", 1) !== 1) return null;
        space = "features";
        steps.push({ kind: "keep", node });
        break;
      case "Clip": {
        const legacy = view.opset < 11;
        const min = legacy ? floatAttribute(node, "min", -Infinity) : scalar(node.input[1], view.scope);
        const max = legacy ? floatAttribute(node, "max", Infinity) : scalar(node.input[2], view.scope);
        if (min !== 0 || max === null) return null;
        if (max === undefined || max >= 3.4e38) steps.push({ kind: "keep", node });
        else if (max > 0 && view.opset >= 8) steps.push({ kind: "bound", node, max });
        else return null;
        break;
      }
      case "BatchNormalization": {
        // y = scale (x - mean) / sqrt(var + eps) + B: dividing x, mean and B by s divides y by s.
        if (space !== "spatial" || !singleOutput) return null;
        const bias = ownFloat(node.input[2], view.inits, view.uses);
        const mean = ownFloat(node.input[3], view.inits, view.uses);
        if (!bias || !mean || elementCount(tensorDims(bias)) !== first.outs || elementCount(tensorDims(mean)) !== first.outs) return null;
        steps.push({ kind: "constant", node, tensors: [bias, mean] });
        break;
      }
      case "Add": {
        const other = ownFloat(node.input[1 - index], view.inits, view.uses);
        if (!other || !perChannel(other, first.outs, space, first.rank)) return null;
        steps.push({ kind: "constant", node, tensors: [other] });
        break;
      }
      default:
        return null;
    }
    tensor = node.output[0];
  }
  return null;
}

/**
 * max |w| over each (output channel, input channel) cell of a layer (over the kernel for Conv): what every range below
 * reads, computed once; positive scales commute with the max.
 */
function cellRanges(l: Layer): Float32Array {
  const out = new Float32Array(l.outs * l.per);
  const w = (l.values ??= readFloat32(l.weight));
  const { outs, per, inner, oStride, pStride, kStride } = l;
  for (let o = 0; o < outs; o++) {
    for (let p = 0; p < per; p++) {
      const start = o * oStride + p * pStride;
      let m = 0;
      for (let k = 0; k < inner; k++) {
        const a = Math.abs(w[start + k * kStride]!);
        if (a > m) m = a;
      }
      out[o * per + p] = m;
    }
  }
  return out;
}

/** Per-channel ranges of a layer's effective weight (its scales applied): per output channel, or per input channel. */
function ranges(l: Layer, side: "out" | "in"): Float64Array {
  const { outs, per, groupOuts } = l;
  const cells = (l.cells ??= cellRanges(l));
  const sIn = l.sIn;
  const sOut = l.sOut;
  const r = new Float64Array(side === "out" ? outs : l.ins);
  for (let o = 0; o < outs; o++) {
    const base = Math.floor(o / groupOuts) * per;
    const row = o * per;
    const div = sOut ? sOut[o]! : 1;
    let rowMax = 0;
    for (let p = 0; p < per; p++) {
      const c = base + p;
      const e = (cells[row + p]! * (sIn ? sIn[c]! : 1)) / div;
      if (side === "out") {
        if (e > rowMax) rowMax = e;
      } else if (e > r[c]!) r[c] = e;
    }
    if (side === "out") r[o] = rowMax;
  }
  return r;
}

/** The layer's weight with its scales applied, rounded once to float32. */
function scaledWeight(l: Layer): Float32Array {
  const w = (l.values ??= readFloat32(l.weight));
  const out = new Float32Array(w.length);
  for (let o = 0; o < l.outs; o++) {
    const base = Math.floor(o / l.groupOuts) * l.per;
    const div = l.sOut ? l.sOut[o]! : 1;
    for (let p = 0; p < l.per; p++) {
      const f = (l.sIn ? l.sIn[base + p]! : 1) / div;
      const start = o * l.oStride + p * l.pStride;
      for (let k = 0; k < l.inner; k++) out[start + k * l.kStride] = w[start + k * l.kStride]! * f;
    }
  }
  return out;
}

/** Largest over smallest nonzero value (1 when none or one). */
function spread(r: Float64Array): number {
  let hi = 0;
  let lo = Infinity;
  for (const v of r) {
    if (v > hi) hi = v;
    if (v > 0 && v < lo) lo = v;
  }
  return hi > 0 ? hi / lo : 1;
}

/** A float tensor of the same name and shape, each value divided by its channel's scale. */
function divided(t: TensorProto, s: Float64Array): TensorProto {
  const v = readFloat32(t);
  return makeTensor(t.name, DT.FLOAT, tensorDims(t), Float32Array.from(v, (x, i) => x / s[i]!));
}

/** Finds the pairs of one graph, equalizes them and rewrites it; bodies are equalized on their own, first. */
function equalizeGraph(
  graph: GraphProto,
  outer: ReadonlyMap<string, TensorProto>,
  uses: ReadonlyMap<string, number>,
  opset: number,
  allocate: (wanted: string) => string,
  report: EqualizedPair[],
  sweepsRun: number[],
): GraphProto {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const scope = new Map(outer);
  for (const v of graph.input) if (!inits.has(v.name)) scope.delete(v.name);
  for (const t of graph.initializer) scope.set(t.name, t);
  // Bodies first, each against this graph's scope.
  let nodes = graph.node.map((n) => {
    let changed = false;
    const attribute = n.attribute.map((a) => {
      if (a.type === AT.GRAPH && a.g) {
        const g = equalizeGraph(a.g, scope, uses, opset, allocate, report, sweepsRun);
        if (g === a.g) return a;
        changed = true;
        return edited(a, { g });
      }
      if (a.type === AT.GRAPHS && a.graphs.length > 0) {
        const graphs = a.graphs.map((g) => equalizeGraph(g, scope, uses, opset, allocate, report, sweepsRun));
        if (graphs.every((g, i) => g === a.graphs[i])) return a;
        changed = true;
        return edited(a, { graphs });
      }
      return a;
    });
    return changed ? edited(n, { attribute }) : n;
  });
  const bodiesChanged = nodes.some((n, i) => n !== graph.node[i]);

  const consumers = new Map<string, { node: NodeProto; index: number }[]>();
  const hidden = new Set<string>();
  for (const node of nodes) {
    node.input.forEach((name, index) => {
      if (name) consumers.set(name, [...(consumers.get(name) ?? []), { node, index }]);
    });
    for (const g of subgraphsOf(node)) bodyReads(g, hidden);
  }
  const view: GraphView = { inits, scope, consumers, outputs: new Set(graph.output.map((o) => o.name)), hidden, uses, opset };

  const layers = new Map<NodeProto, Layer>();
  const layer = (n: NodeProto) => {
    if (!layers.has(n)) {
      const l = layerOf(n, inits, uses);
      if (!l) return null;
      layers.set(n, l);
    }
    return layers.get(n)!;
  };
  const pairs: Pair[] = [];
  for (const node of nodes) {
    const first = layer(node);
    if (!first || !first.biasScalable || first.outs < 2) continue;
    const chain = chainFrom(first, view);
    if (!chain) continue;
    const second = layers.get(chain.second.node) ?? chain.second;
    layers.set(second.node, second);
    const s = new Float64Array(first.outs).fill(1);
    first.sOut = s;
    second.sIn = s;
    pairs.push({ first, second, steps: chain.steps, s });
  }
  if (pairs.length === 0) return bodiesChanged ? edited(graph, { node: nodes }) : graph;

  const before = pairs.map((p) => Math.max(spread(ranges(p.first, "out")), spread(ranges(p.second, "in"))));
  let sweeps = 0;
  for (let worst = Infinity; sweeps < MAX_SWEEPS && worst >= SWEEP_TOLERANCE; sweeps++) {
    worst = 0;
    for (const p of pairs) {
      const r1 = ranges(p.first, "out");
      const r2 = ranges(p.second, "in");
      for (let i = 0; i < p.s.length; i++) {
        if (!(r1[i]! > 0 && r2[i]! > 0)) continue;
        const f = Math.sqrt(r1[i]! / r2[i]!);
        if (!Number.isFinite(f) || f === 0) continue;
        p.s[i] = p.s[i]! * f;
        worst = Math.max(worst, Math.abs(Math.log(f)));
      }
    }
  }
  sweepsRun.push(sweeps);
  pairs.forEach((p, k) =>
    report.push({
      first: nodeLabel(p.first.node),
      second: nodeLabel(p.second.node),
      through: p.steps.map((s) => s.node.opType),
      channels: p.s.length,
      spreadBefore: before[k]!,
      spreadAfter: Math.max(spread(ranges(p.first, "out")), spread(ranges(p.second, "in"))),
    }),
  );

  // Rewrite: scaled weights, biases and per-channel constants; Clip(0, max) as Relu then Min(max / s).
  const replaced = new Map<string, TensorProto>();
  for (const l of layers.values()) {
    if (!l.sIn && !l.sOut) continue;
    replaced.set(l.weight.name, makeTensor(l.weight.name, DT.FLOAT, tensorDims(l.weight), scaledWeight(l)));
    if (l.sOut && l.bias) replaced.set(l.bias.name, divided(l.bias, l.sOut));
  }
  const added: TensorProto[] = [];
  const expanded = new Map<NodeProto, NodeProto[]>();
  for (const p of pairs) {
    let space = p.first.space;
    for (const step of p.steps) {
      if (step.node.opType === "Flatten") space = "features";
      if (step.kind === "constant") for (const t of step.tensors) replaced.set(t.name, divided(t, p.s));
      if (step.kind !== "bound") continue;
      const n = step.node;
      const label = nodeLabel(n);
      const relu = allocate(`${n.output[0]}_relu`);
      const bound = allocate(`${label}_bound`);
      const dims = space === "features" ? [p.s.length] : [p.s.length, ...new Array<number>(p.first.rank - 2).fill(1)];
      added.push(makeTensor(bound, DT.FLOAT, dims, Float32Array.from(p.s, (s) => step.max / s)));
      expanded.set(n, [makeNode("Relu", [n.input[0]!], [relu], n.name), makeNode("Min", [relu, bound], [n.output[0]!], allocate(`${label}_min`))]);
    }
  }
  nodes = nodes.flatMap((n) => expanded.get(n) ?? [n]);
  const initializer = [...graph.initializer.map((t) => replaced.get(t.name) ?? t), ...added];
  return edited(graph, { node: nodes, initializer });
}

/**
 * Equalizes every pair of consecutive layers the model allows: first layer Conv (depthwise and grouped included), Gemm
 * or MatMul with a constant 2-D right operand; second the same, reading the first's output as its data input (Conv
 * after Conv; Gemm/MatMul after Gemm/MatMul, or after Conv through a global pool and Flatten); in between only
 * Relu, LeakyRelu, Clip with min 0 (its max becomes a per-channel bound: Relu then Min), max and average pools,
 * Identity, Dropout, BatchNormalization (its mean and bias scaled) and Add of a per-channel constant (scaled). Each
 * tensor on the way has one reader, is no graph output and is read by no body; each weight, bias and constant scaled is
 * read by its node alone. Ranges are per channel max |w|; sweeps repeat until no scale moves (SWEEP_TOLERANCE) or
 * MAX_SWEEPS.
 */
export function equalizeModel(model: ModelProto): EqualizeResult {
  if (!model.graph) return { model, pairs: [], sweeps: 0 };
  const uses = new Map<string, number>();
  countUses(model.graph, uses);
  const pairs: EqualizedPair[] = [];
  const sweeps: number[] = [];
  const graph = equalizeGraph(model.graph, new Map(), uses, defaultOpset(model), nameAllocator(model.graph), pairs, sweeps);
  if (graph === model.graph) return { model, pairs, sweeps: 0 };
  return { model: edited(model, { graph }), pairs, sweeps: Math.max(0, ...sweeps) };
}
