/* int8 1x1 convolution straight on NCHW: Y[M, P] = W[M, K] x X[K, P] with int8 weights (per output channel scale)
 * and activations quantized per pixel (column p: scale_p = max_k |X[k, p]| / 127, round half to even), so neither
 * the input nor the output is transposed. Activations are laid out in pairs of input channels, [ceil(K/2)][Pp][2]
 * (Pp = P rounded up to 8, zeros past P and past K), so that one i16x8 holds 4 pixels x 2 channels and i32x4.dot_i16x8
 * against a weight pair splatted to every lane gives 4 pixels' sums over the pair. Weights are packed in panels of 4
 * channels, [ceil(M/4)][ceil(K/2)][4] pairs of int16 (zeros past M and K). */
#include "common.h"

EXPORT(qs8_pointwise_quantize)
void qs8_pointwise_quantize(int K, int P, const float* X, int8_t* Q, float* scales) {
  const int Pp = (P + 7) & ~7;
  const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
  /* Column maxima, 4 pixels a vector. */
  int p = 0;
  for (; p + 4 <= P; p += 4) {
    v128_t vmax = wasm_f32x4_splat(0.f);
    for (int k = 0; k < K; k++) vmax = wasm_f32x4_pmax(vmax, wasm_v128_and(wasm_v128_load(X + (long)k * P + p), absmask));
    wasm_v128_store(scales + p, vmax);
  }
  for (; p < P; p++) {
    float mx = 0.f;
    for (int k = 0; k < K; k++) {
      const float v = X[(long)k * P + p] < 0 ? -X[(long)k * P + p] : X[(long)k * P + p];
      mx = mx < v ? v : mx;
    }
    scales[p] = mx;
  }
  for (; p < Pp; p++) scales[p] = 0.f;
  /* scales holds each column's max until the end; 127 / max (0 for an all-zero column) is made where it is used. */
  const float* mx = scales;
  for (int kp = 0; kp < (K + 1) / 2; kp++) {
    const int k0 = 2 * kp, k1 = 2 * kp + 1;
    const float* x0 = X + (long)k0 * P;
    const float* x1 = k1 < K ? X + (long)k1 * P : 0;
    int8_t* q = Q + (long)kp * Pp * 2;
    p = 0;
    for (; p + 8 <= P; p += 8) {
      const v128_t m0 = wasm_v128_load(mx + p), m1 = wasm_v128_load(mx + p + 4), zero = wasm_f32x4_splat(0.f);
      const v128_t s0 = wasm_v128_and(wasm_f32x4_div(wasm_f32x4_splat(127.f), m0), wasm_f32x4_gt(m0, zero));
      const v128_t s1 = wasm_v128_and(wasm_f32x4_div(wasm_f32x4_splat(127.f), m1), wasm_f32x4_gt(m1, zero));
      const v128_t a0 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x0 + p), s0)));
      const v128_t a1 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x0 + p + 4), s1)));
      v128_t b0 = wasm_i32x4_splat(0), b1 = b0;
      if (x1) {
        b0 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x1 + p), s0)));
        b1 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x1 + p + 4), s1)));
      }
      /* (p0 k0, p0 k1, p1 k0, p1 k1, ...) */
      const v128_t lo = wasm_i16x8_narrow_i32x4(wasm_i32x4_shuffle(a0, b0, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, b0, 2, 6, 3, 7));
      const v128_t hi = wasm_i16x8_narrow_i32x4(wasm_i32x4_shuffle(a1, b1, 0, 4, 1, 5), wasm_i32x4_shuffle(a1, b1, 2, 6, 3, 7));
      wasm_v128_store(q + 2 * p, wasm_i8x16_narrow_i16x8(lo, hi));
    }
    for (; p < Pp; p++) {
      int v0 = 0, v1 = 0;
      if (p < P) {
        const float inv = mx[p] > 0.f ? 127.f / mx[p] : 0.f;
        const float r0 = nearest_f32(x0[p] * inv);
        v0 = r0 > 127.f ? 127 : r0 < -127.f ? -127 : (int)r0;
        if (x1) {
          const float r1 = nearest_f32(x1[p] * inv);
          v1 = r1 > 127.f ? 127 : r1 < -127.f ? -127 : (int)r1;
        }
      }
      q[2 * p] = (int8_t)v0;
      q[2 * p + 1] = (int8_t)v1;
    }
  }
  for (p = 0; p < Pp; p++) scales[p] = scales[p] / 127.f;
}

static inline v128_t pair(v128_t w, int i) {
  switch (i) {
    case 0: return wasm_i32x4_shuffle(w, w, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(w, w, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(w, w, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(w, w, 3, 3, 3, 3);
  }
}

/* y[p..p+3] (n of them) = clamp(f32(acc) * ws * as[p..] + bias, lo, hi). */
static inline void store4(float* y, v128_t acc, float ws, const float* as, float bias, v128_t vlo, v128_t vhi, int n) {
  v128_t r = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc), wasm_f32x4_mul(wasm_f32x4_splat(ws), wasm_v128_load(as)));
  r = clamp_f32x4(wasm_f32x4_add(r, wasm_f32x4_splat(bias)), vlo, vhi);
  if (n >= 4) wasm_v128_store(y, r);
  else store_partial_f32x4(y, r, n);
}

/* Y[m, p] = clamp(sum_k W[m, k] X[k, p] * ws[m] * as[p] + bias[m], lo, hi) from the quantized Q and as
 * (qs8_pointwise_quantize) and the packed Wp; ws holds ceil(M/4)*4 floats, bias M floats or is 0. Pixels go in
 * blocks of 64 so that their activations stay in cache while every channel panel passes over them. */
EXPORT(qs8_pointwise_4x8)
void qs8_pointwise_4x8(int M, int K, int P, const int8_t* Q, const float* as, const int32_t* Wp, const float* ws,
                       const float* bias, float lo, float hi, float* Y) {
  const int Pp = (P + 7) & ~7, Kh = (K + 1) / 2;
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int pb = 0; pb < Pp; pb += 64) {
    const int pe = pb + 64 < Pp ? pb + 64 : Pp;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int32_t* w = Wp + (long)(m0 / 4) * Kh * 4;
      for (int p = pb; p < pe; p += 8) {
        v128_t z = wasm_i32x4_splat(0);
        v128_t a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        const int8_t* q = Q + (long)p * 2;
        for (int kp = 0; kp < Kh; kp++) {
          const v128_t x0 = wasm_i16x8_load8x8(q + (long)kp * Pp * 2), x1 = wasm_i16x8_load8x8(q + (long)kp * Pp * 2 + 8);
          const v128_t wv = wasm_v128_load(w + kp * 4);
          v128_t wi = pair(wv, 0);
          a00 = wasm_i32x4_add(a00, wasm_i32x4_dot_i16x8(x0, wi)); a01 = wasm_i32x4_add(a01, wasm_i32x4_dot_i16x8(x1, wi));
          wi = pair(wv, 1);
          a10 = wasm_i32x4_add(a10, wasm_i32x4_dot_i16x8(x0, wi)); a11 = wasm_i32x4_add(a11, wasm_i32x4_dot_i16x8(x1, wi));
          wi = pair(wv, 2);
          a20 = wasm_i32x4_add(a20, wasm_i32x4_dot_i16x8(x0, wi)); a21 = wasm_i32x4_add(a21, wasm_i32x4_dot_i16x8(x1, wi));
          wi = pair(wv, 3);
          a30 = wasm_i32x4_add(a30, wasm_i32x4_dot_i16x8(x0, wi)); a31 = wasm_i32x4_add(a31, wasm_i32x4_dot_i16x8(x1, wi));
        }
        const int n0 = P - p < 4 ? P - p : 4, n1 = P - p - 4 < 4 ? P - p - 4 : 4;
        const v128_t acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
        for (int i = 0; i < 4 && m0 + i < M; i++) {
          float* y = Y + (long)(m0 + i) * P + p;
          const float b = bias ? bias[m0 + i] : 0.f;
          store4(y, acc[i][0], ws[m0 + i], as + p, b, vlo, vhi, n0);
          if (n1 > 0) store4(y + 4, acc[i][1], ws[m0 + i], as + p + 4, b, vlo, vhi, n1);
        }
      }
    }
  }
}
