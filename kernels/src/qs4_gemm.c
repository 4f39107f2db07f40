/* int4 weights (two per byte, one fp32 scale per block of 32 along K) x int8 activations (qs8_quantize_rows, Kp a
 * multiple of 32). Weights: row n of W^T is Kp/2 bytes; in block b (16 bytes), byte j holds element 32b+j in its low
 * nibble and 32b+16+j in its high nibble (two's complement, -8..7). Scales: wsT[b * Np + n] (Np a multiple of 4).
 * C[m,n] = clamp(as_m * sum_b f32(dot_b) * ws[b,n] + bias_n, lo, hi). */
#include "common.h"

static inline v128_t dot32(v128_t alo0, v128_t ahi0, v128_t alo1, v128_t ahi1, v128_t w) {
  const v128_t lo = wasm_i8x16_shr(wasm_i8x16_shl(w, 4), 4); /* elements 0..15 */
  const v128_t hi = wasm_i8x16_shr(w, 4);                    /* elements 16..31 */
  v128_t acc = wasm_i32x4_dot_i16x8(alo0, wasm_i16x8_extend_low_i8x16(lo));
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(ahi0, wasm_i16x8_extend_high_i8x16(lo)));
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(alo1, wasm_i16x8_extend_low_i8x16(hi)));
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(ahi1, wasm_i16x8_extend_high_i8x16(hi)));
}

EXPORT(qs4_gemm_wasmsimd_1x4)
void qs4_gemm_wasmsimd_1x4(int M, int Kp, int N, const int8_t* Q, const float* as, const uint8_t* W, const float* wsT,
                           int Np, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int rowBytes = Kp / 2, blocks = Kp / 32;
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const uint8_t* w0 = W + (long)n0 * rowBytes;
    for (int m = 0; m < M; m++) {
      const int8_t* q = Q + (long)m * Kp;
      v128_t acc = wasm_f32x4_splat(0.f);
      for (int b = 0; b < blocks; b++) {
        const v128_t a0 = wasm_v128_load(q + 32 * b), a1 = wasm_v128_load(q + 32 * b + 16);
        const v128_t alo0 = wasm_i16x8_extend_low_i8x16(a0), ahi0 = wasm_i16x8_extend_high_i8x16(a0);
        const v128_t alo1 = wasm_i16x8_extend_low_i8x16(a1), ahi1 = wasm_i16x8_extend_high_i8x16(a1);
        const uint8_t* wb = w0 + 16 * b;
        v128_t d0 = dot32(alo0, ahi0, alo1, ahi1, wasm_v128_load(wb));
        v128_t d1 = dot32(alo0, ahi0, alo1, ahi1, wasm_v128_load(wb + rowBytes));
        v128_t d2 = dot32(alo0, ahi0, alo1, ahi1, wasm_v128_load(wb + 2 * rowBytes));
        v128_t d3 = dot32(alo0, ahi0, alo1, ahi1, wasm_v128_load(wb + 3 * rowBytes));
        v128_t s = wasm_f32x4_convert_i32x4(hsum4_i32x4(d0, d1, d2, d3));
        acc = F32X4_MADD(s, wasm_v128_load(wsT + (long)b * Np + n0), acc);
      }
      v128_t r = wasm_f32x4_mul(acc, wasm_f32x4_splat(as[m]));
      if (bias) r = wasm_f32x4_add(r, wasm_v128_load(bias + n0));
      r = clamp_f32x4(r, vlo, vhi);
      float* c = C + (long)m * ldc + n0;
      if (cols == 4) wasm_v128_store(c, r);
      else store_partial_f32x4(c, r, cols);
    }
  }
}
