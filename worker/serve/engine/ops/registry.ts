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
import { dequantizelinear } from "./dequantizelinear";
import { dropout } from "./dropout";
import { flatten } from "./flatten";
import { gelu } from "./gelu";
import { gemm } from "./gemm";
import { globalaveragepool } from "./globalaveragepool";
import { gru } from "./gru";
import { identity } from "./identity";
import { layernormalization } from "./layernormalization";
import { lstm } from "./lstm";
import { matmul } from "./matmul";
import { maxpool } from "./maxpool";
import { mul } from "./mul";
import { relu } from "./relu";
import { reshape } from "./reshape";
import { shape } from "./shape";
import { sigmoid } from "./sigmoid";
import { softmax } from "./softmax";
import { tanh } from "./tanh";
import { transpose } from "./transpose";

export const OPS: Record<string, Op> = {
  Add: add,
  AveragePool: averagepool,
  BatchNormalization: batchnormalization,
  Cast: cast,
  Clip: clip,
  Concat: concat,
  Constant: constant,
  Conv: conv,
  DequantizeLinear: dequantizelinear,
  Dropout: dropout,
  Flatten: flatten,
  Gelu: gelu,
  Gemm: gemm,
  GlobalAveragePool: globalaveragepool,
  GRU: gru,
  Identity: identity,
  LayerNormalization: layernormalization,
  LSTM: lstm,
  MatMul: matmul,
  MaxPool: maxpool,
  Mul: mul,
  Relu: relu,
  Reshape: reshape,
  Shape: shape,
  Sigmoid: sigmoid,
  Softmax: softmax,
  Tanh: tanh,
  Transpose: transpose,
};
