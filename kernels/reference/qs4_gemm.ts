// Scalar reference of qs4_gemm_wasmsimd_rx4 (the spec its tests hold it to): int4 weights W [K, N] (integers in
// [-8, 7]) with a scale per 32 inputs of a channel, times int8 activations with a scale per row. Block sums are exact integers; the sum over blocks is
// float64 here (float32 in the kernel), so results are compared within a tolerance.
export function refQs4Gemm(
  M: number, K: number, N: number, q: ArrayLike<number>, as: ArrayLike<number>, W: ArrayLike<number>,
  scaleOf: (n: number, block32: number) => number, bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b * 32 < K; b++) {
        let dot = 0;
        for (let k = b * 32; k < Math.min(K, b * 32 + 32); k++) dot += q[m * K + k]! * W[k * N + n]!;
        acc += dot * scaleOf(n, b);
      }
      const r = acc * as[m]! + (bias ? bias[n]! : 0);
      C[m * N + n] = Math.min(Math.max(r, lo), hi);
    }
  }
  return C;
}
