// Scalar reference of the int8 1x1 convolution on NCHW (qs8_pointwise_quantize, qs8_pointwise_4x8): each pixel's
// column of input channels quantized as qs8_quantize_rows quantizes a row, then the int32 dot and the float epilogue
// in float32 steps, so that the kernels match bit for bit.
import { refQs8Epilogue, refQuantizeRows } from "./qs8_gemm";

/** Y [M, P] from X [K, P] (NCHW plane), integer weights W [M, K], per-channel scales ws [M], bias [M] or null. */
export function refQs8Pointwise(
  M: number, K: number, P: number, X: ArrayLike<number>, W: ArrayLike<number>, ws: ArrayLike<number>,
  bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const columns = new Float32Array(P * K); // X transposed: one row per pixel
  for (let k = 0; k < K; k++) for (let p = 0; p < P; p++) columns[p * K + k] = X[k * P + p]!;
  const { q, scales } = refQuantizeRows(P, K, columns);
  const acc = new Int32Array(P * M);
  for (let p = 0; p < P; p++)
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += q[p * K + k]! * W[m * K + k]!;
      acc[p * M + m] = s;
    }
  const rows = refQs8Epilogue(P, M, acc, scales, ws, bias, lo, hi); // [P, M]
  const Y = new Float32Array(M * P);
  for (let p = 0; p < P; p++) for (let m = 0; m < M; m++) Y[m * P + p] = rows[p * M + m]!;
  return Y;
}
