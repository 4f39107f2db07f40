// The operator table: for each op type whose constant weight compression and the kernel engine work on, which input
// holds the weight, how that weight is laid out (its output-channel axis, the axis the op sums over, the matrix
// products it feeds), which input is the per-channel bias, where the output's channels lie, and what may be done to
// it (pruned, with which structures; quantized, with which schemes). Quantizers, the dynamic rewrite, pruning,
// calibration, evaluation and the engine read it; an op that is not here has no weight to compress.
import type { GraphProto, NodeProto, TensorProto } from "onnx-buf";
import { intAttribute } from "./attributes";

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

export const OPERATORS = { MatMul: matmul, Gemm: gemm, Conv: conv } as const satisfies Record<string, WeightedOperator>;

const BY_OP_TYPE: Readonly<Record<string, WeightedOperator | undefined>> = OPERATORS;

/** The table entry of a node's op (default domain only), or undefined. */
export function weightedOperator(node: NodeProto): WeightedOperator | undefined {
  return node.domain === "" || node.domain === "ai.onnx" ? BY_OP_TYPE[node.opType] : undefined;
}

/** How reports, recipes and errors name a node: its name, else its first output, else its op type. */
export function nodeLabel(node: NodeProto): string {
  return node.name || node.output[0] || node.opType;
}

/** A node of a table op whose weight input is an initializer. */
export interface WeightedLayer {
  node: NodeProto;
  label: string;
  operator: WeightedOperator;
  weight: TensorProto;
}

/** The weighted layer a node is, given the graph's initializers by name, or undefined. */
export function weightedLayer(node: NodeProto, initializers: ReadonlyMap<string, TensorProto>): WeightedLayer | undefined {
  const operator = weightedOperator(node);
  const name = operator ? node.input[operator.weight] : undefined;
  const weight = name ? initializers.get(name) : undefined;
  return operator && weight ? { node, label: nodeLabel(node), operator, weight } : undefined;
}

/** The weighted layers of a graph, in graph order. */
export function weightedLayers(graph: GraphProto): WeightedLayer[] {
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  return graph.node.flatMap((n) => weightedLayer(n, initializers) ?? []);
}

/** The weight's layout when pruning takes this weight (rank within the op's limit), else null. */
export function prunableLayout(layer: Pick<WeightedLayer, "node" | "operator">, dims: readonly number[]): WeightLayout | null {
  return dims.length <= layer.operator.prune.maxRank ? layer.operator.layout(layer.node, dims) : null;
}
