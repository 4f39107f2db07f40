// Scalar reference of pq_gemm_wasmsimd (the spec its tests hold it to): W[b * d + j, n] = book[idx[n * B + b] * d + j]
// with B = K / d, then C = clamp((A x W) * scale + bias, lo, hi). Sums in float64 here (float32 in the kernel, in
// another order), so results are compared within a tolerance.
export function refPqGemm(
  M: number, K: number, N: number, d: number, A: ArrayLike<number>, idx: ArrayLike<number>, book: ArrayLike<number>,
  scale: ArrayLike<number> | null, bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const B = K / d;
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b < B; b++) {
        const entry = idx[n * B + b]! * d;
        for (let j = 0; j < d; j++) acc += A[m * K + b * d + j]! * book[entry + j]!;
      }
      const r = acc * (scale ? scale[n]! : 1) + (bias ? bias[n]! : 0);
      C[m * N + n] = Math.min(Math.max(r, lo), hi);
    }
  return C;
}
