// Scalar reference of the int8 path: per-row dynamic activation quantization (qs8_quantize_rows) and the
// int8 x int8 -> int32 GEMM with its float epilogue (qs8_gemm_wasmsimd_2x4), reproducing float32 rounding step by step
// so that the kernels match bit for bit.
const f = Math.fround;

/** Round half to even, as wasm's f32.nearest. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function refQuantizeRows(M: number, K: number, A: ArrayLike<number>): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(M * K);
  const scales = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let mx = 0;
    for (let k = 0; k < K; k++) mx = Math.max(mx, Math.abs(A[m * K + k]!));
    const inv = mx > 0 ? f(127 / mx) : 0;
    scales[m] = f(mx / 127);
    for (let k = 0; k < K; k++) q[m * K + k] = Math.max(-127, Math.min(127, roundHalfEven(f(A[m * K + k]! * inv))));
  }
  return { q, scales };
}

/** int32 accumulators: Q [M, K] times W [K, N]. */
export function refQs8Dot(M: number, K: number, N: number, q: ArrayLike<number>, W: ArrayLike<number>): Int32Array {
  const out = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += q[m * K + k]! * W[k * N + n]!;
      out[m * N + n] = s;
    }
  }
  return out;
}

/** C = clamp(f32(acc) * f32(as_m * ws_n) + bias_n) in float32 steps. */
export function refQs8Epilogue(
  M: number, N: number, acc: Int32Array, as: ArrayLike<number>, ws: ArrayLike<number>, bias: ArrayLike<number> | null,
  lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let r = f(f(acc[m * N + n]!) * f(as[m]! * ws[n]!));
      if (bias) r = f(r + bias[n]!);
      C[m * N + n] = Math.min(Math.max(r, lo), hi);
    }
  }
  return C;
}

/** Unsigned 7-bit rows (qu7_quantize_rows): range including 0, scale (max-min)/127, zero point in [0, 127]. */
export function refQuantizeRowsU7(M: number, K: number, A: ArrayLike<number>): { q: Uint8Array; scales: Float32Array; zeroPoints: Int32Array } {
  const q = new Uint8Array(M * K);
  const scales = new Float32Array(M);
  const zeroPoints = new Int32Array(M);
  for (let m = 0; m < M; m++) {
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < K; k++) {
      lo = Math.min(lo, A[m * K + k]!);
      hi = Math.max(hi, A[m * K + k]!);
    }
    const range = f(hi - lo);
    const inv = range > 0 ? f(127 / range) : 0;
    scales[m] = range > 0 ? f(range / 127) : 0;
    const zp = Math.max(0, Math.min(127, roundHalfEven(f(-lo * inv))));
    zeroPoints[m] = zp;
    for (let k = 0; k < K; k++) q[m * K + k] = Math.max(0, Math.min(127, roundHalfEven(f(A[m * K + k]! * inv)) + zp));
  }
  return { q, scales, zeroPoints };
}

/** C = clamp(f32(acc - zp_m * wsum_n) * f32(as_m * ws_n) + bias_n) with acc = Q x W (W [K, N] int8). */
export function refQu7Gemm(
  M: number, K: number, N: number, q: ArrayLike<number>, as: ArrayLike<number>, zps: ArrayLike<number>, W: ArrayLike<number>,
  ws: ArrayLike<number>, bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const acc = refQs8Dot(M, K, N, q, W);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let wsum = 0;
      for (let k = 0; k < K; k++) wsum += W[k * N + n]!;
      acc[m * N + n] = acc[m * N + n]! - zps[m]! * wsum;
    }
  return refQs8Epilogue(M, N, acc, as, ws, bias, lo, hi);
}
