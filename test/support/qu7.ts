// Runs of the u7 activation paths on a kernel instance (either build): the GEMM, returning what the reference checks,
// and the 1x1 convolution on an NCHW plane.
import { packQs8, packQu7Pointwise, padded, weightMatrix } from "@worker/serve/wasm/packing";
import type { KernelInstance } from "@worker/serve/wasm/runtime";
import { integers, uniform } from "./numbers";

export function qu7Case(kx: KernelInstance, M: number, K: number, N: number, nonNegative: boolean) {
  const A = uniform(M * K, M * 7 + K + (nonNegative ? 1 : 0), 2).map((v) => (nonNegative ? Math.abs(v) : v));
  const W = integers(K * N, N * 13 + K, -127, 127);
  const ws = uniform(N, N + 5, 0.05).map(Math.abs);
  const bias = uniform(N, N + 9, 1);
  const packed = packQs8(weightMatrix(W, K, N, "kn"));
  const wsum = new Int32Array(packed.Np);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wsum[n]! += W[k * N + n]!;
  const a = kx.put(A);
  const q = kx.alloc(M * packed.Kp);
  const s = kx.alloc(M * 4);
  const z = kx.alloc(M * 4);
  kx.k.qu7_quantize_rows(M, K, packed.Kp, a, K, q, s, z);
  const c = kx.alloc(M * N * 4);
  kx.k.qu7_gemm_wasmsimd_2x4(M, packed.Kp, N, q, s, z, kx.put(packed.data), kx.put(wsum), kx.put(padded(ws, packed.Np)), kx.put(padded(bias, packed.Np)), c, N, -Infinity, Infinity);
  const qs = kx.u8(q, M * packed.Kp);
  const rows = Uint8Array.from({ length: M * K }, (_, i) => qs[Math.floor(i / K) * packed.Kp + (i % K)]!);
  return { A, W, ws, bias, q: rows, zeroPoints: kx.i32(z, M).slice(), got: kx.f32(c, M * N).slice() };
}

/** qu7_pointwise on `kx` (either build): quantize the plane, run the kernel, return the output. */
export function qu7Pointwise(kx: KernelInstance, M: number, K: number, P: number, X: Float32Array, W: Int8Array, ws: Float32Array, bias: Float32Array | null, lo = -Infinity, hi = Infinity): Float32Array {
  const Pp = Math.ceil(P / 8) * 8;
  const q = kx.alloc(Math.ceil(K / 4) * Pp * 4);
  const as = kx.alloc(Pp * 4);
  const zps = kx.alloc(Pp * 4);
  const y = kx.alloc(M * P * 4);
  kx.k.qu7_pointwise_quantize(K, P, kx.put(X), q, as, zps);
  const { weights, sums } = packQu7Pointwise((m, k) => W[m * K + k]!, M, K);
  const wsPadded = new Float32Array(Math.ceil(M / 4) * 4);
  wsPadded.set(ws);
  kx.k.qu7_pointwise_4x8(M, K, P, q, as, zps, kx.put(weights), kx.put(sums), kx.put(wsPadded), bias ? kx.put(bias) : 0, lo, hi, y);
  return kx.f32(y, M * P).slice();
}
