// Scalar reference of lut4_gemm_wasmsimd_4x8 (the spec its tests hold it to): W[k, n] = table[idx[k * N + n]], then
// C = clamp((A x W) * scale + bias, lo, hi). Sums in float64 here (float32 in the kernel, in another order), so results
// are compared within a tolerance.
export function refLut4Gemm(
  M: number, K: number, N: number, A: ArrayLike<number>, idx: ArrayLike<number>, table: ArrayLike<number>,
  scale: ArrayLike<number> | null, bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += A[m * K + k]! * table[idx[k * N + n]!]!;
      const r = acc * (scale ? scale[n]! : 1) + (bias ? bias[n]! : 0);
      C[m * N + n] = Math.min(Math.max(r, lo), hi);
    }
  return C;
}
