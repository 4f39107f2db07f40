// The kernel engine's operator registry: op type -> module. A graph with any other op runs on onnxruntime-web.
import type { Op } from "../op";
import { add } from "./add";
import { averagepool } from "./averagepool";
import { batchnormalization } from "./batchnormalization";
import { cast } from "./cast";
import { clip } from "./clip";
import { concat } from "./concat";
import { constant } from "./constant";
import { conv } from "./conv";
import { convtranspose } from "./convtranspose";
import { dequantizelinear } from "./dequantizelinear";
import { dropout } from "./dropout";
import { flatten } from "./flatten";
import { gelu } from "./gelu";
import { gemm } from "./gemm";
import { globalaveragepool } from "./globalaveragepool";
import { gru } from "./gru";
import { identity } from "./identity";
import { ifOp } from "./if";
import { instancenormalization } from "./instancenormalization";
import { layernormalization } from "./layernormalization";
import { lstm } from "./lstm";
import { matmul } from "./matmul";
import { maxpool } from "./maxpool";
import { mul } from "./mul";
import { relu } from "./relu";
import { reshape } from "./reshape";
import { shape } from "./shape";
import { sigmoid } from "./sigmoid";
import { modOp } from "./mod";
import { scatternd } from "./scatternd";
import { softmax } from "./softmax";
import { swish } from "./swish";
import { tanh } from "./tanh";
import { transpose } from "./transpose";
import { abs } from "./abs";
import { and } from "./and";
import { ceil } from "./ceil";
import { constantofshape } from "./constantofshape";
import { div } from "./div";
import { equal } from "./equal";
import { erf } from "./erf";
import { exp } from "./exp";
import { expand } from "./expand";
import { floor } from "./floor";
import { gather } from "./gather";
import { globalmaxpool } from "./globalmaxpool";
import { greater } from "./greater";
import { greaterorequal } from "./greaterorequal";
import { hardsigmoid } from "./hardsigmoid";
import { hardswish } from "./hardswish";
import { less } from "./less";
import { lessorequal } from "./lessorequal";
import { log } from "./log";
import { logsoftmax } from "./logsoftmax";
import { max } from "./max";
import { min } from "./min";
import { neg } from "./neg";
import { not } from "./not";
import { or } from "./or";
import { pad } from "./pad";
import { pow } from "./pow";
import { quantizelinear } from "./quantizelinear";
import { range } from "./range";
import { reciprocal } from "./reciprocal";
import { reducemax } from "./reducemax";
import { reducemean } from "./reducemean";
import { reducemin } from "./reducemin";
import { reduceprod } from "./reduceprod";
import { reducesum } from "./reducesum";
import { resize } from "./resize";
import { slice } from "./slice";
import { split } from "./split";
import { sqrt } from "./sqrt";
import { squeeze } from "./squeeze";
import { sub } from "./sub";
import { tile } from "./tile";
import { trilu } from "./trilu";
import { unsqueeze } from "./unsqueeze";
import { upsample } from "./upsample";
import { where } from "./where";
import { gatherelements } from "./gatherelements";
import { topk } from "./topk";
import { lpnormalization } from "./lpnormalization";
import { sum } from "./sum";
import { mean } from "./mean";
import { size } from "./size";
import { isnan } from "./isnan";
import { isinf } from "./isinf";
import { einsum } from "./einsum";
import { cumsum } from "./cumsum";
import { argmax } from "./argmax";
import { argmin } from "./argmin";
import { depthtospace } from "./depthtospace";
import { spacetodepth } from "./spacetodepth";
import { reducel1 } from "./reducel1";
import { reducel2 } from "./reducel2";
import { reducesumsquare } from "./reducesumsquare";
import { reducelogsum } from "./reducelogsum";
import { reducelogsumexp } from "./reducelogsumexp";
import { leakyrelu } from "./leakyrelu";
import { elu } from "./elu";
import { selu } from "./selu";
import { celu } from "./celu";
import { thresholdedrelu } from "./thresholdedrelu";
import { softplus } from "./softplus";
import { softsign } from "./softsign";
import { mish } from "./mish";
import { sin } from "./sin";
import { cos } from "./cos";
import { sign } from "./sign";
import { round } from "./round";
import { prelu } from "./prelu";

export const OPS: Record<string, Op> = {
  Add: add,
  AveragePool: averagepool,
  BatchNormalization: batchnormalization,
  Cast: cast,
  Clip: clip,
  Concat: concat,
  Constant: constant,
  Conv: conv,
  ConvTranspose: convtranspose,
  DequantizeLinear: dequantizelinear,
  Dropout: dropout,
  Flatten: flatten,
  Gelu: gelu,
  Gemm: gemm,
  GlobalAveragePool: globalaveragepool,
  GRU: gru,
  Identity: identity,
  If: ifOp,
  LayerNormalization: layernormalization,
  InstanceNormalization: instancenormalization,
  LSTM: lstm,
  MatMul: matmul,
  MaxPool: maxpool,
  Mul: mul,
  Relu: relu,
  Reshape: reshape,
  Shape: shape,
  Sigmoid: sigmoid,
  Softmax: softmax,
  LogSoftmax: logsoftmax,
  Trilu: trilu,
  Swish: swish,
  Tanh: tanh,
  Transpose: transpose,
  Abs: abs,
  And: and,
  Ceil: ceil,
  ConstantOfShape: constantofshape,
  Div: div,
  Equal: equal,
  Erf: erf,
  Exp: exp,
  Expand: expand,
  Floor: floor,
  Gather: gather,
  GlobalMaxPool: globalmaxpool,
  Greater: greater,
  GreaterOrEqual: greaterorequal,
  HardSigmoid: hardsigmoid,
  HardSwish: hardswish,
  Less: less,
  LessOrEqual: lessorequal,
  Log: log,
  Max: max,
  Min: min,
  Mod: modOp,
  ScatterND: scatternd,
  Neg: neg,
  Not: not,
  Or: or,
  Pad: pad,
  Pow: pow,
  QuantizeLinear: quantizelinear,
  Range: range,
  Reciprocal: reciprocal,
  ReduceMax: reducemax,
  ReduceMean: reducemean,
  ReduceMin: reducemin,
  ReduceProd: reduceprod,
  ReduceSum: reducesum,
  Resize: resize,
  Slice: slice,
  Split: split,
  Sqrt: sqrt,
  Squeeze: squeeze,
  Sub: sub,
  Tile: tile,
  Unsqueeze: unsqueeze,
  Upsample: upsample,
  Where: where,
  LeakyRelu: leakyrelu,
  Elu: elu,
  Selu: selu,
  Celu: celu,
  ThresholdedRelu: thresholdedrelu,
  Softplus: softplus,
  Softsign: softsign,
  Mish: mish,
  Sin: sin,
  Cos: cos,
  Sign: sign,
  Round: round,
  PRelu: prelu,
  ReduceL1: reducel1,
  ReduceL2: reducel2,
  ReduceSumSquare: reducesumsquare,
  ReduceLogSum: reducelogsum,
  ReduceLogSumExp: reducelogsumexp,
  DepthToSpace: depthtospace,
  SpaceToDepth: spacetodepth,
  CumSum: cumsum,
  ArgMax: argmax,
  ArgMin: argmin,
  Einsum: einsum,
  Sum: sum,
  Mean: mean,
  Size: size,
  IsNaN: isnan,
  IsInf: isinf,
  GatherElements: gatherelements,
  TopK: topk,
  LpNormalization: lpnormalization,
};
