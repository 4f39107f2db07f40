// Scalar references of the int8 1x1 convolutions on NCHW (qs8_pointwise_*, and qu7_pointwise_* on unsigned 7-bit
// activations with a zero point): each pixel's column of input channels quantized as qs8_quantize_rows (or
// qu7_quantize_rows) quantizes a row, then the int32 dot and the float epilogue in float32 steps, so that the kernels
// match bit for bit.
import { refQs8Epilogue, refQu7Gemm, refQuantizeRows, refQuantizeRowsU7 } from "./qs8_gemm";

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

/** The unsigned 7-bit form: columns quantized with a zero point, removed through each channel's level sum. */
export function refQu7Pointwise(
  M: number, K: number, P: number, X: ArrayLike<number>, W: ArrayLike<number>, ws: ArrayLike<number>,
  bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const columns = new Float32Array(P * K);
  for (let k = 0; k < K; k++) for (let p = 0; p < P; p++) columns[p * K + k] = X[k * P + p]!;
  const { q, scales, zeroPoints } = refQuantizeRowsU7(P, K, columns);
  const Wkn = new Int32Array(K * M);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) Wkn[k * M + m] = W[m * K + k]!;
  const rows = refQu7Gemm(P, K, M, q, scales, zeroPoints, Wkn, ws, bias, lo, hi); // [P, M]
  const Y = new Float32Array(M * P);
  for (let p = 0; p < P; p++) for (let m = 0; m < M; m++) Y[m * P + p] = rows[p * M + m]!;
  return Y;
}
