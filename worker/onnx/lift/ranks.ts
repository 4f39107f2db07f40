// The rank of a node's outputs from its inputs' ranks, as the ops of opsets 7-12 define them: what lets a lift place
// a Softmax's axis in graphs that state no intermediate shapes (tf2onnx, keras2onnx). Exact or nothing: an op not
// listed, or an input rank not known, leaves the output's rank unknown, so a rewrite that needs it refuses.
import type { NodeProto, TensorProto } from "onnx-buf";

/** Ops whose every output has their first input's rank. */
const SAME_RANK = new Set([
  "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign",
  "ThresholdedRelu", "Shrink", "Identity", "Dropout", "Cast", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor",
  "Ceil", "Round", "Sign", "Not", "Erf", "IsNaN", "IsInf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
  "Asinh", "Acosh", "Atanh", "Clip", "BatchNormalization", "InstanceNormalization", "LRN", "LpNormalization",
  "MeanVarianceNormalization", "Softmax", "LogSoftmax", "Hardmax", "Transpose", "Conv", "ConvTranspose", "ConvInteger",
  "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "MaxRoiPool", "Pad",
  "Upsample", "Resize", "DepthToSpace", "SpaceToDepth", "Slice", "Split", "Tile", "CumSum", "ReverseSequence",
  "QuantizeLinear", "DequantizeLinear", "Concat",
]);
/** Ops whose output is 2-D. */
const RANK_2 = new Set(["Gemm", "Flatten"]);
/** Numpy broadcasting: the output has the largest input rank. */
const BROADCAST = new Set([
  "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual",
  "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "PRelu", "Where",
]);
const REDUCE = new Set(["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);

type RankOf = (name: string) => number | undefined;
type ConstantOf = (name: string) => TensorProto | undefined;

function ints(node: NodeProto, name: string): bigint[] | undefined {
  return node.attribute.find((a) => a.name === name)?.ints;
}

function int(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : fallback;
}

/** How many distinct axes of a rank-`rank` tensor `axes` names (negative ones count from the end). */
const distinctAxes = (axes: bigint[], rank: number) => new Set(axes.map((a) => (Number(a) + rank) % rank)).size;

/** The length of a 1-D constant (a shape), or undefined. */
function lengthOf(name: string | undefined, constantOf: ConstantOf): number | undefined {
  const t = name ? constantOf(name) : undefined;
  return t && t.dims.length === 1 ? Number(t.dims[0]) : undefined;
}

/** The rank each output of `node` has, or undefined where the op or an input's rank does not fix it. */
export function outputRank(node: NodeProto, rankOf: RankOf, constantOf: ConstantOf): number | undefined {
  const op = node.opType;
  const first = node.input[0] ? rankOf(node.input[0]) : undefined;
  if (RANK_2.has(op)) return 2;
  if (SAME_RANK.has(op)) return first;
  if (BROADCAST.has(op) || op === "MatMul") {
    const r = node.input.filter((i) => i !== "").map(rankOf);
    if (r.length === 0 || r.some((x) => x === undefined)) return undefined;
    // MatMul with a 1-D operand drops that axis: left out rather than modelled.
    if (op === "MatMul" && r.some((x) => x! < 2)) return undefined;
    return Math.max(...(r as number[]));
  }
  // Shapes given as constants fix the rank whatever the data's.
  if (op === "Reshape" || op === "ConstantOfShape") return lengthOf(node.input[op === "Reshape" ? 1 : 0], constantOf);
  if (first === undefined) return undefined;
  if (REDUCE.has(op) || op === "ArgMax" || op === "ArgMin") {
    if (int(node, "keepdims", 1) !== 0) return first;
    if (op === "ArgMax" || op === "ArgMin") return first - 1;
    const axes = ints(node, "axes");
    // Without axes every axis is reduced (a scalar), unless opset 13+ says an empty list means none; with axes, each
    // distinct axis goes.
    if (!axes) return node.input.length > 1 || int(node, "noop_with_empty_axes", 0) !== 0 ? undefined : 0;
    return first - distinctAxes(axes, first);
  }
  switch (op) {
    case "Squeeze": {
      const axes = ints(node, "axes");
      return axes && node.input.length === 1 ? first - distinctAxes(axes, first) : undefined;
    }
    case "Unsqueeze": {
      const axes = ints(node, "axes");
      return axes && node.input.length === 1 ? first + axes.length : undefined;
    }
    case "Expand": {
      const n = lengthOf(node.input[1], constantOf);
      return n === undefined ? undefined : Math.max(first, n);
    }
    case "Gather": {
      const indices = node.input[1] ? rankOf(node.input[1]) : undefined;
      return indices === undefined ? undefined : first + indices - 1;
    }
    case "Shape":
      return 1;
    case "Size":
      return 0;
    default:
      return undefined;
  }
}
