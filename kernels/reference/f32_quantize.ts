// Scalar reference of the static 8-bit activation grid (kernels/src/f32_quantize.c), float32 rounding step by step.
import { roundHalfEven } from "./qs8_gemm";

const f = Math.fround;

/** clamp(nearest(x / s) + zp, lo, hi): ONNX QuantizeLinear's levels; a NaN input takes lo (the kernels' clamp). */
export function refLevels(x: number, s: number, zp: number, lo: number, hi: number): number {
  const r = roundHalfEven(f(f(x) / f(s))) + zp;
  return Number.isNaN(r) ? lo : Math.min(hi, Math.max(lo, r));
}

export function refDequantize(q: number, s: number, zp: number): number {
  return f(f(q - zp) * f(s));
}

/** Rows [M, K] as int8 for the GEMM: levels minus `shift`. */
export function refQuantizeRowsStatic(M: number, K: number, A: ArrayLike<number>, s: number, zp: number, lo: number, hi: number, shift: number): Int8Array {
  const q = new Int8Array(M * K);
  for (let i = 0; i < M * K; i++) q[i] = refLevels(A[i]!, s, zp, lo, hi) - shift;
  return q;
}
