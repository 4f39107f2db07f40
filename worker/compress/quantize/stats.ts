// The error sums a weight quantizer reports, shared by the scalar loops (weights.ts) and the wasm kernels
// (compress/simd-quantize.ts) without either importing the other.
/** Sums the error statistics are made of: sum w^2, sum e^2 and max |e| over a tensor. */
export interface QuantizationStats {
  signal: number;
  noise: number;
  maxAbsError: number;
}
