/* 1-bit weights with a per-channel scale (w = ws_n * (bit ? +1 : -1)), stored as W^T bits: row n holds Kp/8 bytes,
 * bit k of the row at byte k/8, bit k%8 (1 = positive); Kp a multiple of 128, zero past K; Np a multiple of 4.
 *  - sign-select: full-precision activations, C[m,n] = ws_n * sum_k (bit ? a : -a) + bias_n.
 *  - XNOR-popcount: activations binarized per row (binary_pack_rows: bit = a >= 0, scale = mean|a|),
 *    C[m,n] = f32(K - 2 * popcount(xa ^ xw)) * f32(as_m * ws_n) + bias_n. */
#include "common.h"

EXPORT(binary_pack_rows)
void binary_pack_rows(int M, int K, int Kp, const float* A, int lda, uint8_t* bits, float* scales) {
  const v128_t zero = wasm_f32x4_splat(0.f), absmask = wasm_i32x4_splat(0x7fffffff);
  for (int m = 0; m < M; m++) {
    const float* a = A + (long)m * lda;
    uint8_t* out = bits + (long)m * (Kp / 8);
    for (int i = 0; i < Kp / 8; i++) out[i] = 0;
    v128_t vsum = zero;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
      v128_t x0 = wasm_v128_load(a + k), x1 = wasm_v128_load(a + k + 4);
      vsum = wasm_f32x4_add(vsum, wasm_v128_and(x0, absmask));
      vsum = wasm_f32x4_add(vsum, wasm_v128_and(x1, absmask));
      out[k / 8] = (uint8_t)(wasm_i32x4_bitmask(wasm_f32x4_ge(x0, zero)) | (wasm_i32x4_bitmask(wasm_f32x4_ge(x1, zero)) << 4));
    }
    float sum = wasm_f32x4_extract_lane(vsum, 0) + wasm_f32x4_extract_lane(vsum, 1) +
                wasm_f32x4_extract_lane(vsum, 2) + wasm_f32x4_extract_lane(vsum, 3);
    for (; k < K; k++) {
      sum += a[k] < 0 ? -a[k] : a[k];
      if (a[k] >= 0.f) out[k / 8] |= (uint8_t)(1u << (k % 8));
    }
    scales[m] = K > 0 ? sum / (float)K : 0.f;
  }
}

static inline v128_t popcnt_xor(v128_t a, const uint8_t* w) { return wasm_i8x16_popcnt(wasm_v128_xor(a, wasm_v128_load(w))); }

static inline v128_t widen_u8_counts(v128_t c) {
  return wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(c));
}

EXPORT(binary_xnor_gemm_wasmsimd_1x4)
void binary_xnor_gemm_wasmsimd_1x4(int M, int K, int Kp, int N, const uint8_t* XA, const float* as, const uint8_t* W,
                                   const float* ws, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int rowBytes = Kp / 8;
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const uint8_t* w0 = W + (long)n0 * rowBytes;
    for (int m = 0; m < M; m++) {
      const uint8_t* xa = XA + (long)m * rowBytes;
      v128_t z = wasm_i32x4_splat(0);
      v128_t t0 = z, t1 = z, t2 = z, t3 = z;
      for (int i0 = 0; i0 < rowBytes; i0 += 16 * 31) {
        /* u8 lane counts stay below 256 for 31 steps of at most 8 each. */
        v128_t c0 = z, c1 = z, c2 = z, c3 = z;
        const int end = i0 + 16 * 31 < rowBytes ? i0 + 16 * 31 : rowBytes;
        for (int i = i0; i < end; i += 16) {
          v128_t a = wasm_v128_load(xa + i);
          c0 = wasm_i8x16_add(c0, popcnt_xor(a, w0 + i));
          c1 = wasm_i8x16_add(c1, popcnt_xor(a, w0 + rowBytes + i));
          c2 = wasm_i8x16_add(c2, popcnt_xor(a, w0 + 2 * rowBytes + i));
          c3 = wasm_i8x16_add(c3, popcnt_xor(a, w0 + 3 * rowBytes + i));
        }
        t0 = wasm_i32x4_add(t0, widen_u8_counts(c0));
        t1 = wasm_i32x4_add(t1, widen_u8_counts(c1));
        t2 = wasm_i32x4_add(t2, widen_u8_counts(c2));
        t3 = wasm_i32x4_add(t3, widen_u8_counts(c3));
      }
      v128_t pop = hsum4_i32x4(t0, t1, t2, t3);
      v128_t dots = wasm_i32x4_sub(wasm_i32x4_splat(K), wasm_i32x4_shl(pop, 1));
      v128_t scale = wasm_f32x4_mul(wasm_f32x4_splat(as[m]), wasm_v128_load(ws + n0));
      v128_t r = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(dots), scale);
      if (bias) r = wasm_f32x4_add(r, wasm_v128_load(bias + n0));
      r = clamp_f32x4(r, vlo, vhi);
      float* c = C + (long)m * ldc + n0;
      if (cols == 4) wasm_v128_store(c, r);
      else store_partial_f32x4(c, r, cols);
    }
  }
}

EXPORT(binary_sign_gemm_wasmsimd_1x4)
void binary_sign_gemm_wasmsimd_1x4(int M, int K, int Kp, int N, const float* A, int lda, const uint8_t* W,
                                   const float* ws, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int rowBytes = Kp / 8;
  const int K8 = K & ~7;
  const v128_t lanes_lo = wasm_i32x4_make(1, 2, 4, 8), lanes_hi = wasm_i32x4_make(16, 32, 64, 128);
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const uint8_t* w0 = W + (long)n0 * rowBytes;
    const uint8_t* w1 = w0 + rowBytes;
    const uint8_t* w2 = w1 + rowBytes;
    const uint8_t* w3 = w2 + rowBytes;
    for (int m = 0; m < M; m++) {
      const float* a = A + (long)m * lda;
      v128_t z = wasm_f32x4_splat(0.f);
      v128_t s0 = z, s1 = z, s2 = z, s3 = z;
      for (int k = 0; k < K8; k += 8) {
        const v128_t x0 = wasm_v128_load(a + k), x1 = wasm_v128_load(a + k + 4);
        const v128_t n0v = wasm_f32x4_neg(x0), n1v = wasm_f32x4_neg(x1);
#define SIGN_STEP(s, w)                                                                          \
  {                                                                                              \
    const v128_t b = wasm_i32x4_splat((w)[k >> 3]);                                              \
    s = wasm_f32x4_add(s, wasm_v128_bitselect(x0, n0v, wasm_i32x4_eq(wasm_v128_and(b, lanes_lo), lanes_lo))); \
    s = wasm_f32x4_add(s, wasm_v128_bitselect(x1, n1v, wasm_i32x4_eq(wasm_v128_and(b, lanes_hi), lanes_hi))); \
  }
        SIGN_STEP(s0, w0) SIGN_STEP(s1, w1) SIGN_STEP(s2, w2) SIGN_STEP(s3, w3)
#undef SIGN_STEP
      }
      v128_t r = hsum4_f32x4(s0, s1, s2, s3);
      if (K8 < K) {
        float t[4] = {0, 0, 0, 0};
        const uint8_t* ws4[4] = {w0, w1, w2, w3};
        for (int j = 0; j < 4; j++)
          for (int k = K8; k < K; k++) t[j] += (ws4[j][k >> 3] >> (k & 7)) & 1 ? a[k] : -a[k];
        r = wasm_f32x4_add(r, wasm_v128_load(t));
      }
      r = wasm_f32x4_mul(r, wasm_v128_load(ws + n0));
      if (bias) r = wasm_f32x4_add(r, wasm_v128_load(bias + n0));
      r = clamp_f32x4(r, vlo, vhi);
      float* c = C + (long)m * ldc + n0;
      if (cols == 4) wasm_v128_store(c, r);
      else store_partial_f32x4(c, r, cols);
    }
  }
}
