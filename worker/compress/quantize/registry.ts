// Which operators have quantizable weights: one entry per op kind says which input holds the weight
// and along which axis its output channels lie. Ops not listed stay float.
import { conv } from "./conv";
import { gemm } from "./gemm";
import { matmul } from "./matmul";
import type { OperatorQuantizer } from "./operator";

export type { OperatorQuantizer, WeightSlot } from "./operator";

export const QUANTIZERS: Record<string, OperatorQuantizer> = {
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
};
