/* 1x1 convolution at stride 1 without padding, straight on NCHW: Y[M, P] = W[M, K] x X[K, P] with the epilogue per
 * output channel (row), so neither the input nor the output is transposed. W is packed at load in panels of 4
 * channels ([ceil(M/4)][K][4], zero rows past M, scales folded in); a 4x8 tile keeps eight accumulators, one
 * 8-pixel row of X and one 4-channel column of W live per input channel; 4x4 and 4x1 tiles take the last pixels. */
#include "common.h"

static inline v128_t lane(v128_t w, int i) {
  switch (i) {
    case 0: return wasm_i32x4_shuffle(w, w, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(w, w, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(w, w, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(w, w, 3, 3, 3, 3);
  }
}

/* Rows m0..m0+3 (those below M stored) of the 8 columns from p0. */
static inline void tile_4x8(const float* X, int P, int K, const float* Wp, const float* bias, int m0, int M, int p0,
                            float lo, float hi, float* Y) {
  v128_t a00 = wasm_f32x4_splat(0.f), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (int k = 0; k < K; k++) {
    const float* x = X + (long)k * P + p0;
    const v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 4);
    const v128_t w = wasm_v128_load(Wp + (long)k * 4);
    const v128_t w0 = lane(w, 0), w1 = lane(w, 1), w2 = lane(w, 2), w3 = lane(w, 3);
    a00 = F32X4_MADD(w0, x0, a00); a01 = F32X4_MADD(w0, x1, a01);
    a10 = F32X4_MADD(w1, x0, a10); a11 = F32X4_MADD(w1, x1, a11);
    a20 = F32X4_MADD(w2, x0, a20); a21 = F32X4_MADD(w2, x1, a21);
    a30 = F32X4_MADD(w3, x0, a30); a31 = F32X4_MADD(w3, x1, a31);
  }
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const v128_t rows[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
  for (int i = 0; i < 4 && m0 + i < M; i++) {
    const v128_t b = wasm_f32x4_splat(bias ? bias[m0 + i] : 0.f);
    float* y = Y + (long)(m0 + i) * P + p0;
    wasm_v128_store(y, clamp_f32x4(wasm_f32x4_add(rows[i][0], b), vlo, vhi));
    wasm_v128_store(y + 4, clamp_f32x4(wasm_f32x4_add(rows[i][1], b), vlo, vhi));
  }
}

/* The same for 4 columns. */
static inline void tile_4x4(const float* X, int P, int K, const float* Wp, const float* bias, int m0, int M, int p0,
                            float lo, float hi, float* Y) {
  v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
  for (int k = 0; k < K; k++) {
    const v128_t x0 = wasm_v128_load(X + (long)k * P + p0);
    const v128_t w = wasm_v128_load(Wp + (long)k * 4);
    a0 = F32X4_MADD(lane(w, 0), x0, a0);
    a1 = F32X4_MADD(lane(w, 1), x0, a1);
    a2 = F32X4_MADD(lane(w, 2), x0, a2);
    a3 = F32X4_MADD(lane(w, 3), x0, a3);
  }
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const v128_t rows[4] = {a0, a1, a2, a3};
  for (int i = 0; i < 4 && m0 + i < M; i++) {
    const v128_t b = wasm_f32x4_splat(bias ? bias[m0 + i] : 0.f);
    wasm_v128_store(Y + (long)(m0 + i) * P + p0, clamp_f32x4(wasm_f32x4_add(rows[i], b), vlo, vhi));
  }
}

/* One column, the 4 channels of the panel as one vector. */
static inline void tile_4x1(const float* X, int P, int K, const float* Wp, const float* bias, int m0, int M, int p,
                            float lo, float hi, float* Y) {
  v128_t a = wasm_f32x4_splat(0.f);
  for (int k = 0; k < K; k++) a = F32X4_MADD(wasm_v128_load(Wp + (long)k * 4), wasm_f32x4_splat(X[(long)k * P + p]), a);
  float out[4];
  wasm_v128_store(out, a);
  for (int i = 0; i < 4 && m0 + i < M; i++) Y[(long)(m0 + i) * P + p] = clamp_f32(out[i] + (bias ? bias[m0 + i] : 0.f), lo, hi);
}

/* Y[m, p] = clamp(sum_k Wp(m, k) X[k, p] + bias[m], lo, hi); bias may be 0. Pixels go in blocks of 64 so that a
 * block of X (K x 64) stays in cache while every channel panel passes over it. */
EXPORT(f32_pointwise_4x8)
void f32_pointwise_4x8(int M, int K, int P, const float* X, const float* Wp, const float* bias, float lo, float hi, float* Y) {
  for (int pb = 0; pb < P; pb += 64) {
    const int pe = pb + 64 < P ? pb + 64 : P;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const float* w = Wp + (long)(m0 / 4) * K * 4;
      int p = pb;
      for (; p + 8 <= pe; p += 8) tile_4x8(X, P, K, w, bias, m0, M, p, lo, hi, Y);
      for (; p + 4 <= pe; p += 4) tile_4x4(X, P, K, w, bias, m0, M, p, lo, hi, Y);
      for (; p < pe; p++) tile_4x1(X, P, K, w, bias, m0, M, p, lo, hi, Y);
    }
  }
}
