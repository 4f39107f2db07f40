// Scalar reference of f32_gemm_wasmsimd_4x8 (and of the sparse fp32 kernels): C = clamp(A x B + bias, lo, hi),
// B as [K, N] row-major, accumulated in float64 (the kernels' float32 sums are compared within a tolerance).
export function refF32Gemm(
  M: number, K: number, N: number, A: ArrayLike<number>, B: ArrayLike<number>, bias: ArrayLike<number> | null,
  lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) s += A[m * K + k]! * B[k * N + n]!;
      C[m * N + n] = Math.min(Math.max(s, lo), hi);
    }
  }
  return C;
}
