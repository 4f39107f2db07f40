// One run of the u7 activation path on a kernel instance (either build), returning what the reference checks.
import { packQs8, padded, weightMatrix } from "@worker/serve/wasm/packing";
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
