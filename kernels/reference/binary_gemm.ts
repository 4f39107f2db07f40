// Scalar references of the 1-bit kernels. Weights W [K, N] are +-ws_n.
//  - sign-select: C = ws_n * sum_k sign(w) a_k + bias (float; compared within a tolerance).
//  - XNOR-popcount: activations binarized (a >= 0 -> +1, scale mean|a| per row); the integer dot K - 2*popcount is
//    exact and the epilogue is reproduced in float32 steps (bit-exact).
const f = Math.fround;

export function refBinaryPackRows(M: number, K: number, A: ArrayLike<number>): { signs: Int8Array; scales: Float32Array } {
  const signs = new Int8Array(M * K);
  const scales = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      s += Math.abs(A[m * K + k]!);
      signs[m * K + k] = A[m * K + k]! >= 0 ? 1 : -1;
    }
    scales[m] = K > 0 ? s / K : 0;
  }
  return { signs, scales };
}

export function refXnorGemm(
  M: number, K: number, N: number, signs: ArrayLike<number>, as: ArrayLike<number>, W: ArrayLike<number>,
  ws: ArrayLike<number>, bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let dot = 0;
      for (let k = 0; k < K; k++) dot += signs[m * K + k]! * (W[k * N + n]! > 0 ? 1 : -1);
      let r = f(f(dot) * f(as[m]! * ws[n]!));
      if (bias) r = f(r + bias[n]!);
      C[m * N + n] = Math.min(Math.max(r, lo), hi);
    }
  }
  return C;
}

export function refSignGemm(
  M: number, K: number, N: number, A: ArrayLike<number>, W: ArrayLike<number>, ws: ArrayLike<number>,
  bias: ArrayLike<number> | null, lo = -Infinity, hi = Infinity,
): Float32Array {
  const C = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += W[k * N + n]! > 0 ? A[m * K + k]! : -A[m * K + k]!;
      C[m * N + n] = Math.min(Math.max(s * ws[n]! + (bias ? bias[n]! : 0), lo), hi);
    }
  }
  return C;
}
