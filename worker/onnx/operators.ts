// The operator table: for each op type whose constant weight compression and the kernel engine work on, which input
// holds the weight, how that weight is laid out (its output-channel axis, the axis the op sums over, the matrix
// products it feeds), which input is the per-channel bias, where the output's channels lie, and what may be done to
// it (pruned, with which structures; quantized, with which schemes). Quantizers, the dynamic rewrite, pruning,
// calibration, evaluation and the engine read it; an op that is not here has no weight to compress.
import type { GraphProto, NodeProto, TensorProto } from "onnx-buf";
import { intAttribute, stringAttribute } from "./attributes";
import { parseEquation } from "./einsum-equation";

/** Where a weight's channels lie. */
export interface WeightLayout {
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Axis of the weight holding the output channels (quantization scales run along it). */
  outAxis: number;
  /** Axis of the weight the op sums over: its input channels (N:M groups and quantization blocks run along it). */
  inAxis: number;
}

/**
 * The weight as the matrix products it feeds: `groups` products of K inputs x N outputs each; element (k, n) of
 * group g lies at g * groupStride + k * kStride + n * nStride of the flat (row-major) weight.
 */
export interface GemmLayout {
  groups: number;
  K: number;
  N: number;
  kStride: number;
  nStride: number;
  groupStride: number;
}

/** Where the node's output holds the channels: an axis counted from the output's end (-1 = last), and the output's
 * rank when the weight alone tells it (null when it follows the data input's rank). */
export interface OutputChannels {
  axis: number;
  rank: number | null;
}

/** The structures pruning removes (recipe.ts: "unstructured", "channel", { n, m }, { block }). */
export type PruneStructure = "unstructured" | "n:m" | "block" | "channel";

/** The quantization schemes a recipe names. */
export type QuantizeScheme = "weight-only" | "dynamic" | "static";

export interface WeightedOperator {
  /** Index of the weight among the node's inputs. */
  weight: number;
  /** Index of the activation the weight multiplies (what static quantization quantizes), or null when none. */
  data: number | null;
  /** Index of the bias added per output channel, or null when the op has none. */
  bias: number | null;
  /** The weight's layout for this node and weight shape, or null when the op takes no weight of that rank. */
  layout(node: NodeProto, dims: readonly number[]): WeightLayout | null;
  /** The weight as matrix products for this node, or null when its shape does not make one. */
  gemm(node: NodeProto, dims: readonly number[]): GemmLayout | null;
  /** Where the output's channels lie, from the weight's shape. */
  outputChannels(dims: readonly number[]): OutputChannels;
  /** Structures pruning may use, and the highest weight rank it takes (its tilings and slices are 2-D or per channel). */
  prune: { structures: readonly PruneStructure[]; maxRank: number };
  /** Schemes quantization may use on the weight. */
  quantize: readonly QuantizeScheme[];
}

const EVERY_STRUCTURE: readonly PruneStructure[] = ["unstructured", "n:m", "block", "channel"];
const EVERY_SCHEME: readonly QuantizeScheme[] = ["weight-only", "dynamic", "static"];
const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

// MatMul(A, B): the constant B is [..., K, N]; output channels lie along its last axis, the sum runs over K.
const matmul: WeightedOperator = {
  weight: 1,
  data: 0,
  bias: null,
  layout: (_node, dims) => (dims.length >= 2 ? { input: 1, outAxis: dims.length - 1, inAxis: dims.length - 2 } : null),
  gemm(_node, dims) {
    if (dims.length < 2) return null;
    const [K, N] = dims.slice(-2) as [number, number];
    return { groups: product(dims.slice(0, -2)), K, N, kStride: N, nStride: 1, groupStride: K * N };
  },
  outputChannels: () => ({ axis: -1, rank: null }),
  prune: { structures: EVERY_STRUCTURE, maxRank: 2 },
  quantize: EVERY_SCHEME,
};

// Gemm(A, B, C): B is [K, N], or [N, K] when transB=1; output channels are N, C is the bias.
const gemm: WeightedOperator = {
  weight: 1,
  data: 0,
  bias: 2,
  layout(node, dims) {
    if (dims.length !== 2) return null;
    return intAttribute(node, "transB", 0) === 1 ? { input: 1, outAxis: 0, inAxis: 1 } : { input: 1, outAxis: 1, inAxis: 0 };
  },
  gemm(node, dims) {
    if (dims.length !== 2) return null;
    const [d0, d1] = dims as [number, number];
    return intAttribute(node, "transB", 0) === 1
      ? { groups: 1, K: d1, N: d0, kStride: 1, nStride: d1, groupStride: d0 * d1 }
      : { groups: 1, K: d0, N: d1, kStride: d1, nStride: 1, groupStride: d0 * d1 };
  },
  outputChannels: () => ({ axis: -1, rank: 2 }),
  prune: { structures: EVERY_STRUCTURE, maxRank: 2 },
  quantize: EVERY_SCHEME,
};

// Conv(X, W, B): W is [M, C/group, k...]; output channels lie along axis 0, the sum runs over C/group and the kernel;
// each of the `group` products takes M/group output channels. The output is [N, M, spatial...].
const conv: WeightedOperator = {
  weight: 1,
  data: 0,
  bias: 2,
  layout: (_node, dims) => (dims.length >= 3 ? { input: 1, outAxis: 0, inAxis: 1 } : null),
  gemm(node, dims) {
    if (dims.length < 3) return null;
    const groups = intAttribute(node, "group", 1);
    const M = dims[0]!;
    if (groups < 1 || M % groups !== 0) return null;
    const K = product(dims.slice(1));
    const N = M / groups;
    return { groups, K, N, kStride: 1, nStride: K, groupStride: N * K };
  },
  outputChannels: (dims) => ({ axis: 1 - dims.length, rank: dims.length }),
  prune: { structures: EVERY_STRUCTURE, maxRank: Infinity },
  quantize: EVERY_SCHEME,
};

// MatMul(W, X) with the constant on the left: W is [..., M, K]; its rows are the output channels (axis -2 of the
// output), the sum runs over its last axis.
const matmulLeft: WeightedOperator = {
  weight: 0,
  data: 1,
  bias: null,
  layout: (_node, dims) => (dims.length >= 2 ? { input: 0, outAxis: dims.length - 2, inAxis: dims.length - 1 } : null),
  gemm(_node, dims) {
    if (dims.length < 2) return null;
    const [N, K] = dims.slice(-2) as [number, number];
    return { groups: product(dims.slice(0, -2)), K, N, kStride: 1, nStride: K, groupStride: K * N };
  },
  outputChannels: () => ({ axis: -2, rank: null }),
  prune: { structures: ["unstructured", "n:m", "block"], maxRank: 2 },
  quantize: ["weight-only", "static"],
};

// ConvTranspose(X, W, B): W is [C_in, C_out/group, k...]; output channels lie along axis 1, the sum along axis 0.
const convTranspose: WeightedOperator = {
  weight: 1,
  data: 0,
  bias: 2,
  layout: (_node, dims) => (dims.length >= 3 ? { input: 1, outAxis: 1, inAxis: 0 } : null),
  gemm: () => null,
  outputChannels: (dims) => ({ axis: 1 - dims.length, rank: dims.length }),
  prune: { structures: ["unstructured"], maxRank: Infinity },
  quantize: ["weight-only", "static"],
};

// Gather(table, indices) on a constant float table [V, D, ...]: each row is looked up whole, so its scales run per
// row (axis 0); the op computes nothing, so only weight-only quantization applies (the table is dequantized, then
// gathered).
const gather: WeightedOperator = {
  weight: 0,
  data: null,
  bias: null,
  layout: (_node, dims) => (dims.length >= 2 ? { input: 0, outAxis: 0, inAxis: 1 } : null),
  gemm: () => null,
  outputChannels: () => ({ axis: -1, rank: null }),
  prune: { structures: ["unstructured"], maxRank: 2 },
  quantize: ["weight-only"],
};

// Slice(table, starts, ends, ...) on a constant float table [P, D, ...]: a data mover like Gather (a learned position
// table cut to the sequence's length), so weight-only, dequantized before the cut; scales per row (axis 0), blocks
// along axis 1. It is no layer to prune.
const slice: WeightedOperator = {
  weight: 0,
  data: null,
  bias: null,
  layout: (_node, dims) => (dims.length >= 2 ? { input: 0, outAxis: 0, inAxis: 1 } : null),
  gemm: () => null,
  outputChannels: () => ({ axis: -1, rank: null }),
  prune: { structures: [], maxRank: 2 },
  quantize: ["weight-only"],
};

/**
 * LSTM/GRU/RNN: W (input 1) is [directions, gates x hidden, input], R (input 2) [directions, gates x hidden,
 * hidden]; each row of axis 1 is one gate's output unit, the sum runs over the last axis. Only weight-only
 * quantization applies (no integer recurrent op).
 */
function recurrent(input: 1 | 2): WeightedOperator {
  return {
    weight: input,
    data: 0,
    bias: null,
    layout: (_node, dims) => (dims.length === 3 ? { input, outAxis: 1, inAxis: 2 } : null),
    gemm: () => null,
    outputChannels: () => ({ axis: -1, rank: null }),
    prune: { structures: ["unstructured"], maxRank: 3 },
    quantize: ["weight-only"],
  };
}

/**
 * The weight operand's axes in an Einsum of two operands ("bij,jk->bik", Keras' EinsumDense "abc,cde->abde" through
 * tf2onnx): its output channels lie along an index it shares with the output alone (the last such), the sum runs
 * along an index it shares with the other operand alone (the last such). Null for an equation without both (an
 * outer product, a shared batch only), a repeated index (a diagonal), or one that does not parse or fit the rank.
 */
function einsumAxes(node: NodeProto, input: 0 | 1, rank: number): { out: number; sum: number } | null {
  let eq;
  try {
    eq = parseEquation(stringAttribute(node, "equation", ""));
  } catch {
    return null;
  }
  if (eq.inputs.length !== 2) return null;
  const own = eq.inputs[input]!;
  const letters = (t: readonly string[]) => t.filter((x) => x !== "...");
  const ownLetters = letters(own);
  const other = new Set(letters(eq.inputs[1 - input]!));
  const every = [...letters(eq.inputs[0]!), ...letters(eq.inputs[1]!)];
  // The implicit output: every index used once.
  const output = new Set(eq.output ? letters(eq.output) : every.filter((x) => every.indexOf(x) === every.lastIndexOf(x)));
  const spread = own.includes("...") ? rank - (own.length - 1) : 0;
  if (spread < 0 || (!own.includes("...") && own.length !== rank)) return null;
  const axes = own.flatMap((x) => (x === "..." ? new Array<string>(spread).fill("...") : [x]));
  if (new Set(ownLetters).size !== ownLetters.length) return null;
  let out = -1;
  let sum = -1;
  axes.forEach((x, i) => {
    if (x === "...") return;
    if (output.has(x) && !other.has(x)) out = i;
    if (other.has(x) && !output.has(x)) sum = i;
  });
  return out >= 0 && sum >= 0 ? { out, sum } : null;
}

// Einsum with a constant operand: a matrix product in the equation's own order, so weight-only quantization (the
// weight dequantized, then the equation as written) and unstructured pruning; no integer form.
function einsumOperand(input: 0 | 1): WeightedOperator {
  return {
    weight: input,
    data: 1 - input,
    bias: null,
    layout(node, dims) {
      const axes = einsumAxes(node, input, dims.length);
      return axes ? { input, outAxis: axes.out, inAxis: axes.sum } : null;
    },
    gemm: () => null,
    outputChannels: () => ({ axis: -1, rank: null }),
    prune: { structures: ["unstructured"], maxRank: Infinity },
    quantize: ["weight-only"],
  };
}

const einsumRight = einsumOperand(1);
const einsumLeft = einsumOperand(0);

export const OPERATORS = {
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  Gather: gather,
  Slice: slice,
  LSTM: recurrent(1),
  GRU: recurrent(1),
  RNN: recurrent(1),
} as const satisfies Record<string, WeightedOperator>;

/**
 * Every weight slot an op may have, in order of preference: MatMul's and Einsum's constant on the right, else on the
 * left; LSTM/GRU/RNN's W and R.
 */
export const OPERATOR_FORMS: Readonly<Record<string, readonly WeightedOperator[] | undefined>> = {
  MatMul: [matmul, matmulLeft],
  Gemm: [gemm],
  Conv: [conv],
  ConvTranspose: [convTranspose],
  Gather: [gather],
  Slice: [slice],
  LSTM: [OPERATORS.LSTM, recurrent(2)],
  GRU: [OPERATORS.GRU, recurrent(2)],
  RNN: [OPERATORS.RNN, recurrent(2)],
  Einsum: [einsumRight, einsumLeft],
};

/** Forms that apply only when the node's preferred form found no weight (both operands constant fold instead). */
const FALLBACK_FORMS: ReadonlySet<WeightedOperator> = new Set([matmulLeft, einsumLeft]);

const BY_OP_TYPE: Readonly<Record<string, WeightedOperator | undefined>> = OPERATORS;
const isDefault = (domain: string) => domain === "" || domain === "ai.onnx";

/** The table entry of a node's op (default domain only), or undefined. */
export function weightedOperator(node: NodeProto): WeightedOperator | undefined {
  return isDefault(node.domain) ? BY_OP_TYPE[node.opType] : undefined;
}

/** How reports, recipes and errors name a node: its name, else its first output, else its op type. */
export function nodeLabel(node: NodeProto): string {
  return node.name || node.output[0] || node.opType;
}

/**
 * The level of each top-level node labelled in `labels`: 1 + the highest level among the labelled nodes upstream of
 * it (1 when there are none). Levels flow through the graph in node order (ONNX graphs are topologically sorted), so
 * a layer's inputs are final once every level below it is.
 */
export function layerLevels(graph: GraphProto, labels: ReadonlySet<string>): Map<string, number> {
  const levels = new Map<string, number>();
  const tensorLevel = new Map<string, number>();
  for (const node of graph.node) {
    let level = 0;
    for (const i of node.input) level = Math.max(level, tensorLevel.get(i) ?? 0);
    const label = nodeLabel(node);
    if (labels.has(label)) levels.set(label, ++level);
    for (const o of node.output) tensorLevel.set(o, level);
  }
  return levels;
}

/** A node of a table op whose weight input is a constant. */
export interface WeightedLayer {
  node: NodeProto;
  label: string;
  operator: WeightedOperator;
  weight: TensorProto;
  /** The graph whose nodes hold `node` (the model's graph, or an If/Loop/Scan body). */
  graph: GraphProto;
  /** True when the node lies in a subgraph. */
  nested: boolean;
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]); // FLOAT, FLOAT16, DOUBLE, BFLOAT16

/** Ops that only move a table's elements: their table is a weight when it holds floats. */
const DATA_MOVERS = new Set(["Gather", "Slice"]);

/** A Gather's or Slice's table is a weight when it holds floats; an integer table is data (token ids, shapes). */
function takes(node: NodeProto, weight: TensorProto): boolean {
  return !DATA_MOVERS.has(node.opType) || FLOAT_TYPES.has(weight.dataType);
}

/**
 * The weight slots of a node whose input is a constant (`constants` by name): MatMul yields one (the right operand
 * when constant, else the left), LSTM/GRU/RNN up to two (W and R).
 */
export function nodeWeights(
  node: NodeProto,
  constants: ReadonlyMap<string, TensorProto>,
  graph: GraphProto = { node: [node] } as GraphProto,
  nested = false,
): WeightedLayer[] {
  if (!isDefault(node.domain)) return [];
  const out: WeightedLayer[] = [];
  for (const operator of OPERATOR_FORMS[node.opType] ?? []) {
    const name = node.input[operator.weight];
    const weight = name ? constants.get(name) : undefined;
    if (!weight || !takes(node, weight)) continue;
    if (FALLBACK_FORMS.has(operator) && out.length > 0) continue;
    out.push({ node, label: nodeLabel(node), operator, weight, graph, nested });
  }
  return out;
}

/** The (first) weighted layer a node is, given the graph's initializers by name, or undefined. */
export function weightedLayer(node: NodeProto, initializers: ReadonlyMap<string, TensorProto>): WeightedLayer | undefined {
  return nodeWeights(node, initializers)[0];
}

/** The bodies a node holds (If branches, Loop and Scan bodies, any graph attribute). */
export function subgraphsOf(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => (a.g ? [a.g, ...a.graphs] : a.graphs));
}

/** Names a node reads, its bodies' reads included (outer names a body uses are implicit inputs of the node). */
export function readsDeep(node: NodeProto, out: string[] = []): string[] {
  for (const i of node.input) if (i) out.push(i);
  for (const g of subgraphsOf(node)) for (const n of g.node) readsDeep(n, out);
  return out;
}

/**
 * The constants a graph's nodes see: the outer scope's, less names its inputs shadow, plus its own initializers
 * (an initializer that is also an input may be fed at run time; it is still treated as a weight, as exporters of
 * IR < 4 list every initializer among the inputs).
 */
export function scopeOf(graph: GraphProto, outer: ReadonlyMap<string, TensorProto>): Map<string, TensorProto> {
  const scope = new Map(outer);
  const own = new Set(graph.initializer.map((t) => t.name));
  for (const v of graph.input) if (!own.has(v.name)) scope.delete(v.name);
  for (const t of graph.initializer) scope.set(t.name, t);
  return scope;
}

/**
 * The weighted layers of a graph, in graph order, each body's layers right after the node that holds it (If
 * branches, Loop and Scan bodies; their weights are their own initializers or the outer graphs').
 */
export function weightedLayers(graph: GraphProto, outer: ReadonlyMap<string, TensorProto> = new Map(), nested = false): WeightedLayer[] {
  const scope = scopeOf(graph, outer);
  return graph.node.flatMap((n) => [
    ...nodeWeights(n, scope, graph, nested),
    ...subgraphsOf(n).flatMap((g) => weightedLayers(g, scope, true)),
  ]);
}

/** The weight's layout when pruning takes this weight (rank within the op's limit), else null. */
export function prunableLayout(layer: Pick<WeightedLayer, "node" | "operator">, dims: readonly number[]): WeightLayout | null {
  return dims.length <= layer.operator.prune.maxRank ? layer.operator.layout(layer.node, dims) : null;
}
