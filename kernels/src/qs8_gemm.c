/* int8 x int8 -> int32 GEMM with per-row dynamic activation quantization and per-channel weight scales.
 * Activations: qs8_quantize_rows turns fp32 rows into int8 (scale_m = absmax_m / 127, round half to even),
 * K padded with zeros to Kp (a multiple of 16). Weights: W^T as [Np, Kp] int8 (row n = output channel n,
 * Np a multiple of 4, zero padded). C[m,n] = clamp(f32(acc) * f32(as_m * ws_n) + bias_n, lo, hi). */
#include "common.h"

EXPORT(qs8_quantize_rows)
void qs8_quantize_rows(int M, int K, int Kp, const float* A, int lda, int8_t* Q, float* scales) {
  const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
  for (int m = 0; m < M; m++) {
    const float* a = A + (long)m * lda;
    int8_t* q = Q + (long)m * Kp;
    v128_t vmax = wasm_f32x4_splat(0.f);
    int k = 0;
    for (; k + 4 <= K; k += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_and(wasm_v128_load(a + k), absmask));
    float mx = wasm_f32x4_extract_lane(vmax, 0);
    for (int i = 1; i < 4; i++) {
      float v = i == 1 ? wasm_f32x4_extract_lane(vmax, 1) : i == 2 ? wasm_f32x4_extract_lane(vmax, 2) : wasm_f32x4_extract_lane(vmax, 3);
      mx = mx < v ? v : mx;
    }
    for (; k < K; k++) {
      float v = a[k] < 0 ? -a[k] : a[k];
      mx = mx < v ? v : mx;
    }
    const float inv = mx > 0.f ? 127.f / mx : 0.f;
    scales[m] = mx / 127.f;
    const v128_t vinv = wasm_f32x4_splat(inv);
    k = 0;
    for (; k + 16 <= K; k += 16) {
      v128_t i0 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(a + k), vinv));
      v128_t i1 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(a + k + 4), vinv));
      v128_t i2 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(a + k + 8), vinv));
      v128_t i3 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(a + k + 12), vinv));
      v128_t s01 = wasm_i16x8_narrow_i32x4(i0, i1), s23 = wasm_i16x8_narrow_i32x4(i2, i3);
      wasm_v128_store(q + k, wasm_i8x16_narrow_i16x8(s01, s23));
    }
    for (; k < K; k++) {
      float r = nearest_f32(a[k] * inv);
      q[k] = (int8_t)(r > 127.f ? 127 : r < -127.f ? -127 : (int)r);
    }
    for (; k < Kp; k++) q[k] = 0;
  }
}

static inline void store_row(float* c, v128_t acc, float as, const float* ws, const float* bias, int n0, int cols,
                             v128_t vlo, v128_t vhi) {
  v128_t scale = wasm_f32x4_mul(wasm_f32x4_splat(as), wasm_v128_load(ws + n0));
  v128_t r = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc), scale);
  if (bias) r = wasm_f32x4_add(r, wasm_v128_load(bias + n0));
  r = clamp_f32x4(r, vlo, vhi);
  if (cols == 4) wasm_v128_store(c + n0, r);
  else store_partial_f32x4(c + n0, r, cols);
}

/* ws and bias hold Np floats (bias may be 0). */
EXPORT(qs8_gemm_wasmsimd_2x4)
void qs8_gemm_wasmsimd_2x4(int M, int Kp, int N, const int8_t* Q, const float* as, const int8_t* W, const float* ws,
                           const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const int8_t* w0 = W + (long)n0 * Kp;
    const int8_t* w1 = w0 + Kp;
    const int8_t* w2 = w1 + Kp;
    const int8_t* w3 = w2 + Kp;
    int m = 0;
    for (; m + 2 <= M; m += 2) {
      const int8_t* q0 = Q + (long)m * Kp;
      const int8_t* q1 = q0 + Kp;
      v128_t z = wasm_i32x4_splat(0);
      v128_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
      /* load8x8 sign-extends while loading (one instruction), so no shuffles in the loop. */
      for (int k = 0; k < Kp; k += 8) {
        const v128_t a = wasm_i16x8_load8x8(q0 + k), b = wasm_i16x8_load8x8(q1 + k);
        v128_t w = wasm_i16x8_load8x8(w0 + k);
        c00 = wasm_i32x4_add(c00, wasm_i32x4_dot_i16x8(a, w)); c10 = wasm_i32x4_add(c10, wasm_i32x4_dot_i16x8(b, w));
        w = wasm_i16x8_load8x8(w1 + k);
        c01 = wasm_i32x4_add(c01, wasm_i32x4_dot_i16x8(a, w)); c11 = wasm_i32x4_add(c11, wasm_i32x4_dot_i16x8(b, w));
        w = wasm_i16x8_load8x8(w2 + k);
        c02 = wasm_i32x4_add(c02, wasm_i32x4_dot_i16x8(a, w)); c12 = wasm_i32x4_add(c12, wasm_i32x4_dot_i16x8(b, w));
        w = wasm_i16x8_load8x8(w3 + k);
        c03 = wasm_i32x4_add(c03, wasm_i32x4_dot_i16x8(a, w)); c13 = wasm_i32x4_add(c13, wasm_i32x4_dot_i16x8(b, w));
      }
      store_row(C + (long)m * ldc, hsum4_i32x4(c00, c01, c02, c03), as[m], ws, bias, n0, cols, vlo, vhi);
      store_row(C + (long)(m + 1) * ldc, hsum4_i32x4(c10, c11, c12, c13), as[m + 1], ws, bias, n0, cols, vlo, vhi);
    }
    if (m < M) {
      const int8_t* q0 = Q + (long)m * Kp;
      v128_t z = wasm_i32x4_splat(0);
      v128_t c00 = z, c01 = z, c02 = z, c03 = z;
      for (int k = 0; k < Kp; k += 8) {
        const v128_t a = wasm_i16x8_load8x8(q0 + k);
        c00 = wasm_i32x4_add(c00, wasm_i32x4_dot_i16x8(a, wasm_i16x8_load8x8(w0 + k)));
        c01 = wasm_i32x4_add(c01, wasm_i32x4_dot_i16x8(a, wasm_i16x8_load8x8(w1 + k)));
        c02 = wasm_i32x4_add(c02, wasm_i32x4_dot_i16x8(a, wasm_i16x8_load8x8(w2 + k)));
        c03 = wasm_i32x4_add(c03, wasm_i32x4_dot_i16x8(a, wasm_i16x8_load8x8(w3 + k)));
      }
      store_row(C + (long)m * ldc, hsum4_i32x4(c00, c01, c02, c03), as[m], ws, bias, n0, cols, vlo, vhi);
    }
  }
}

/* Unsigned 7-bit activations for the relaxed-SIMD dot (whose second operand must lie in [0, 127] to mean the same on
 * x64 and ARM): per row, scale = (max - min) / 127 over a range that includes 0, zero point zp = nearest(-min / scale),
 * q = clamp(nearest(a / scale) + zp, 0, 127); K padded to Kp with zp (so padding contributes zp * 0 weights). */
EXPORT(qu7_quantize_rows)
void qu7_quantize_rows(int M, int K, int Kp, const float* A, int lda, uint8_t* Q, float* scales, int32_t* zero_points) {
  for (int m = 0; m < M; m++) {
    const float* a = A + (long)m * lda;
    uint8_t* q = Q + (long)m * Kp;
    v128_t vmin = wasm_f32x4_splat(0.f), vmax = vmin;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
      const v128_t x = wasm_v128_load(a + k);
      vmin = wasm_f32x4_pmin(vmin, x);
      vmax = wasm_f32x4_pmax(vmax, x);
    }
    float lo = 0.f, hi = 0.f;
    float l[4] = {wasm_f32x4_extract_lane(vmin, 0), wasm_f32x4_extract_lane(vmin, 1), wasm_f32x4_extract_lane(vmin, 2), wasm_f32x4_extract_lane(vmin, 3)};
    float h[4] = {wasm_f32x4_extract_lane(vmax, 0), wasm_f32x4_extract_lane(vmax, 1), wasm_f32x4_extract_lane(vmax, 2), wasm_f32x4_extract_lane(vmax, 3)};
    for (int i = 0; i < 4; i++) { lo = l[i] < lo ? l[i] : lo; hi = hi < h[i] ? h[i] : hi; }
    for (; k < K; k++) { lo = a[k] < lo ? a[k] : lo; hi = hi < a[k] ? a[k] : hi; }
    const float range = hi - lo;
    const float scale = range > 0.f ? range / 127.f : 0.f;
    const float inv = range > 0.f ? 127.f / range : 0.f;
    int zp = (int)nearest_f32(-lo * inv);
    zp = zp < 0 ? 0 : zp > 127 ? 127 : zp;
    scales[m] = scale;
    zero_points[m] = zp;
    const v128_t vinv = wasm_f32x4_splat(inv), vzp = wasm_i32x4_splat(zp);
    const v128_t q0 = wasm_i32x4_splat(0), q127 = wasm_i32x4_splat(127);
    k = 0;
    for (; k + 16 <= K; k += 16) {
      v128_t r[4];
      for (int j = 0; j < 4; j++) {
        v128_t v = wasm_i32x4_add(round_i32x4(wasm_f32x4_mul(wasm_v128_load(a + k + 4 * j), vinv)), vzp);
        r[j] = wasm_i32x4_min(wasm_i32x4_max(v, q0), q127);
      }
      wasm_v128_store(q + k, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(r[0], r[1]), wasm_i16x8_narrow_i32x4(r[2], r[3])));
    }
    for (; k < K; k++) {
      int v = (int)nearest_f32(a[k] * inv) + zp;
      q[k] = (uint8_t)(v < 0 ? 0 : v > 127 ? 127 : v);
    }
    for (; k < Kp; k++) q[k] = (uint8_t)zp;
  }
}

/* int8 weights x unsigned 7-bit activations: C[m,n] = clamp(f32(acc - zp_m * wsum_n) * f32(as_m * ws_n) + bias_n),
 * acc = sum_k W[n,k] Q[m,k]; wsum_n = sum_k W[n,k] over the padded row. The relaxed build uses
 * i32x4.relaxed_dot_i8x16_i7x16_add (16 multiply-adds per instruction); the plain build the same sums with dot_i16x8. */
static inline v128_t dot_u7(v128_t w, v128_t q, v128_t acc) {
#ifdef RELAXED
  return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(w, q, acc);
#else
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_u16x8_extend_low_u8x16(q)));
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_u16x8_extend_high_u8x16(q)));
#endif
}

static inline void store_row_zp(float* c, v128_t acc, float as, int zp, const int32_t* wsum, const float* ws,
                                const float* bias, int n0, int cols, v128_t vlo, v128_t vhi) {
  acc = wasm_i32x4_sub(acc, wasm_i32x4_mul(wasm_i32x4_splat(zp), wasm_v128_load(wsum + n0)));
  store_row(c, acc, as, ws, bias, n0, cols, vlo, vhi);
}

EXPORT(qu7_gemm_wasmsimd_2x4)
void qu7_gemm_wasmsimd_2x4(int M, int Kp, int N, const uint8_t* Q, const float* as, const int32_t* zps, const int8_t* W,
                           const int32_t* wsum, const float* ws, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const int8_t* w0 = W + (long)n0 * Kp;
    const int8_t* w1 = w0 + Kp;
    const int8_t* w2 = w1 + Kp;
    const int8_t* w3 = w2 + Kp;
    int m = 0;
    for (; m + 2 <= M; m += 2) {
      const uint8_t* q0 = Q + (long)m * Kp;
      const uint8_t* q1 = q0 + Kp;
      v128_t z = wasm_i32x4_splat(0);
      v128_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
      for (int k = 0; k < Kp; k += 16) {
        const v128_t a = wasm_v128_load(q0 + k), b = wasm_v128_load(q1 + k);
        v128_t w = wasm_v128_load(w0 + k);
        c00 = dot_u7(w, a, c00); c10 = dot_u7(w, b, c10);
        w = wasm_v128_load(w1 + k);
        c01 = dot_u7(w, a, c01); c11 = dot_u7(w, b, c11);
        w = wasm_v128_load(w2 + k);
        c02 = dot_u7(w, a, c02); c12 = dot_u7(w, b, c12);
        w = wasm_v128_load(w3 + k);
        c03 = dot_u7(w, a, c03); c13 = dot_u7(w, b, c13);
      }
      store_row_zp(C + (long)m * ldc, hsum4_i32x4(c00, c01, c02, c03), as[m], zps[m], wsum, ws, bias, n0, cols, vlo, vhi);
      store_row_zp(C + (long)(m + 1) * ldc, hsum4_i32x4(c10, c11, c12, c13), as[m + 1], zps[m + 1], wsum, ws, bias, n0, cols, vlo, vhi);
    }
    if (m < M) {
      const uint8_t* q0 = Q + (long)m * Kp;
      v128_t z = wasm_i32x4_splat(0);
      v128_t c00 = z, c01 = z, c02 = z, c03 = z;
      for (int k = 0; k < Kp; k += 16) {
        const v128_t a = wasm_v128_load(q0 + k);
        c00 = dot_u7(wasm_v128_load(w0 + k), a, c00);
        c01 = dot_u7(wasm_v128_load(w1 + k), a, c01);
        c02 = dot_u7(wasm_v128_load(w2 + k), a, c02);
        c03 = dot_u7(wasm_v128_load(w3 + k), a, c03);
      }
      store_row_zp(C + (long)m * ldc, hsum4_i32x4(c00, c01, c02, c03), as[m], zps[m], wsum, ws, bias, n0, cols, vlo, vhi);
    }
  }
}
