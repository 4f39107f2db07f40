/* int8 1x1 convolution straight on NCHW: Y[M, P] = W[M, K] x X[K, P] with int8 weights (per output channel scale)
 * and activations quantized per pixel (column p: scale_p = max_k |X[k, p]| / 127, round half to even), so neither
 * the input nor the output is transposed. Activations are laid out in pairs of input channels, [ceil(K/2)][Pp][2]
 * (Pp = P rounded up to 8, zeros past P and past K), so that one i16x8 holds 4 pixels x 2 channels and i32x4.dot_i16x8
 * against a weight pair splatted to every lane gives 4 pixels' sums over the pair. Weights are packed in panels of 4
 * channels, [ceil(M/4)][ceil(K/2)][4] pairs of int16 (zeros past M and K). Inputs on a static 8-bit grid (QDQ
 * activations) go into the same layout as their levels (qs8_pointwise_quantize_static, qs8_patch_quantize_static). */
#include "common.h"

/* Pixels p..p+7's levels as int32 lanes (a0, a1: channel k0; b0, b1: k1) as the pairs layout holds them: (p0 k0,
 * p0 k1, p1 k0, ...), narrowed to int8 with saturation. */
static inline v128_t pair_bytes(v128_t a0, v128_t a1, v128_t b0, v128_t b1) {
  const v128_t lo = wasm_i16x8_narrow_i32x4(wasm_i32x4_shuffle(a0, b0, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, b0, 2, 6, 3, 7));
  const v128_t hi = wasm_i16x8_narrow_i32x4(wasm_i32x4_shuffle(a1, b1, 0, 4, 1, 5), wasm_i32x4_shuffle(a1, b1, 2, 6, 3, 7));
  return wasm_i8x16_narrow_i16x8(lo, hi);
}

/* Pixels p..p+7's int8 levels over a pair of input channels (x0, and x1 or none past K), at their column maxima
 * mx[0..7] (scale 127 / max, 0 for an all-zero column), as the pairs layout holds them: (p0 k0, p0 k1, p1 k0, ...). */
static inline v128_t pair_levels(const float* x0, const float* x1, const float* mx) {
  const v128_t zero = wasm_f32x4_splat(0.f), v127 = wasm_f32x4_splat(127.f);
  const v128_t m0 = wasm_v128_load(mx), m1 = wasm_v128_load(mx + 4);
  const v128_t s0 = wasm_v128_and(wasm_f32x4_div(v127, m0), wasm_f32x4_gt(m0, zero));
  const v128_t s1 = wasm_v128_and(wasm_f32x4_div(v127, m1), wasm_f32x4_gt(m1, zero));
  const v128_t a0 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(x0), s0));
  const v128_t a1 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(x0 + 4), s1));
  v128_t b0 = wasm_i32x4_splat(0), b1 = b0;
  if (x1) {
    b0 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(x1), s0));
    b1 = round_i32x4(wasm_f32x4_mul(wasm_v128_load(x1 + 4), s1));
  }
  return pair_bytes(a0, a1, b0, b1);
}

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
    for (; p + 8 <= P; p += 8) wasm_v128_store(q + 2 * p, pair_levels(x0 + p, x1 ? x1 + p : 0, mx + p));
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

/* Pixels p..p+7's levels on a static grid over a pair of input channels (x0, and x1 or none past K: 0), less the
 * shift, as the pairs layout holds them; vz, vlo and vhi hold zp, lo and hi less the shift (grid_levels_f32x4). */
static inline v128_t pair_grid_levels(const float* x0, const float* x1, v128_t vs, v128_t vz, v128_t vlo, v128_t vhi) {
  const v128_t a0 = round_i32x4(grid_levels_f32x4(wasm_v128_load(x0), vs, vz, vlo, vhi));
  const v128_t a1 = round_i32x4(grid_levels_f32x4(wasm_v128_load(x0 + 4), vs, vz, vlo, vhi));
  v128_t b0 = wasm_i32x4_splat(0), b1 = b0;
  if (x1) {
    b0 = round_i32x4(grid_levels_f32x4(wasm_v128_load(x1), vs, vz, vlo, vhi));
    b1 = round_i32x4(grid_levels_f32x4(wasm_v128_load(x1 + 4), vs, vz, vlo, vhi));
  }
  return pair_bytes(a0, a1, b0, b1);
}

/* Inputs on a static 8-bit grid (a QDQ pair before the layer) for qs8_pointwise_4x8: each element back to its level,
 * clamp(nearest(x / s) + zp, lo, hi) less shift (128 for uint8 levels, 0 for int8), as qs8_quantize_rows_static writes
 * a row, into the pairs layout (zeros past P and past K). The caller gives every pixel the grid's scale s and puts
 * (shift - zp) times each channel's level sum into the bias; a padded convolution's zeros become zp's level. */
EXPORT(qs8_pointwise_quantize_static)
void qs8_pointwise_quantize_static(int K, int P, const float* X, int8_t* Q, float s, float zp, float lo, float hi, float shift) {
  const int Pp = (P + 7) & ~7;
  const v128_t vs = wasm_f32x4_splat(s), vz = wasm_f32x4_splat(zp - shift), vlo = wasm_f32x4_splat(lo - shift),
               vhi = wasm_f32x4_splat(hi - shift);
  for (int kp = 0; kp < (K + 1) / 2; kp++) {
    const int k0 = 2 * kp, k1 = 2 * kp + 1;
    const float* x0 = X + (long)k0 * P;
    const float* x1 = k1 < K ? X + (long)k1 * P : 0;
    int8_t* q = Q + (long)kp * Pp * 2;
    int p = 0;
    for (; p + 8 <= P; p += 8) wasm_v128_store(q + 2 * p, pair_grid_levels(x0 + p, x1 ? x1 + p : 0, vs, vz, vlo, vhi));
    for (; p < Pp; p++) {
      int v0 = 0, v1 = 0;
      if (p < P) {
        v0 = (int)grid_levels_f32(x0[p], s, zp - shift, lo - shift, hi - shift);
        if (x1) v1 = (int)grid_levels_f32(x1[p], s, zp - shift, lo - shift, hi - shift);
      }
      q[2 * p] = (int8_t)v0;
      q[2 * p + 1] = (int8_t)v1;
    }
  }
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

/* A column's range (hi - lo, lo <= 0 <= hi) and its zero point nearest(-lo * 127 / range) in [0, 127]. */
static inline void column_range(float lo, float hi, float* range, int32_t* zero_point) {
  const float r = hi - lo;
  const float inv = r > 0.f ? 127.f / r : 0.f;
  const int zp = (int)nearest_f32(-lo * inv);
  *zero_point = zp < 0 ? 0 : zp > 127 ? 127 : zp;
  *range = r;
}

/* The same convolution on unsigned 7-bit activations, for the relaxed dot (16 multiply-adds per instruction, its
 * second operand in [0, 127]): each pixel's column quantized with a range that includes 0, scale (max - min) / 127 and
 * zero point zp = nearest(-min / scale), q = clamp(nearest(x / scale) + zp, 0, 127) (qu7_quantize_rows' rule per
 * pixel), laid out in quads of input channels, [ceil(K/4)][Pp][4] (zp past K); weights in panels of 4 channels of
 * quads, [ceil(M/4)][ceil(K/4)][4][4] int8 (zeros past M and K), with each channel's level sum to remove zp. */
/* Four rows of levels (one per input channel of a quad, lanes = 4 pixels) as the quads layout holds them: 4 pixels'
 * quads, (p0 k0..k3, p1 k0..k3, ...). */
static inline v128_t quad_bytes(const v128_t r[4]) {
  const v128_t a = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), b = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5);
  const v128_t c = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7), d = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
  const v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 3, 6, 7);
  const v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 3, 6, 7);
  return wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(t0, t1), wasm_i16x8_narrow_i32x4(t2, t3));
}

EXPORT(qu7_pointwise_quantize)
void qu7_pointwise_quantize(int K, int P, const float* X, uint8_t* Q, float* scales, int32_t* zero_points) {
  const int Pp = (P + 7) & ~7, Kq = (K + 3) / 4;
  /* scales holds each column's range (max - min over a range with 0) until the end. The extremes are taken 4 pixels
   * a vector, reading each plane along its row (a pixel's column alone strides by P). */
  int p = 0;
  for (; p + 4 <= P; p += 4) {
    v128_t vlo = wasm_f32x4_splat(0.f), vhi = vlo;
    for (int k = 0; k < K; k++) {
      const v128_t v = wasm_v128_load(X + (long)k * P + p);
      vlo = wasm_f32x4_pmin(vlo, v);
      vhi = wasm_f32x4_pmax(vhi, v);
    }
    float lo[4], hi[4];
    wasm_v128_store(lo, vlo);
    wasm_v128_store(hi, vhi);
    for (int j = 0; j < 4; j++) column_range(lo[j], hi[j], scales + p + j, zero_points + p + j);
  }
  for (; p < Pp; p++) {
    float lo = 0.f, hi = 0.f;
    for (int k = 0; p < P && k < K; k++) {
      const float v = X[(long)k * P + p];
      lo = v < lo ? v : lo;
      hi = hi < v ? v : hi;
    }
    column_range(lo, hi, scales + p, zero_points + p);
  }
  const v128_t zero = wasm_f32x4_splat(0.f), q0 = wasm_i32x4_splat(0), q127 = wasm_i32x4_splat(127);
  for (int kq = 0; kq < Kq; kq++) {
    uint8_t* q = Q + (long)kq * Pp * 4;
    p = 0;
    for (; p + 4 <= P; p += 4) {
      const v128_t range = wasm_v128_load(scales + p), zp = wasm_v128_load(zero_points + p);
      const v128_t inv = wasm_v128_and(wasm_f32x4_div(wasm_f32x4_splat(127.f), range), wasm_f32x4_gt(range, zero));
      v128_t r[4];
      for (int j = 0; j < 4; j++) {
        const int k = 4 * kq + j;
        if (k < K) {
          const v128_t v = wasm_i32x4_add(round_i32x4(wasm_f32x4_mul(wasm_v128_load(X + (long)k * P + p), inv)), zp);
          r[j] = wasm_i32x4_min(wasm_i32x4_max(v, q0), q127);
        } else {
          r[j] = zp;
        }
      }
      wasm_v128_store(q + 4 * p, quad_bytes(r));
    }
    for (; p < Pp; p++) {
      const float range = scales[p];
      const float inv = range > 0.f ? 127.f / range : 0.f;
      const int zp = zero_points[p];
      for (int j = 0; j < 4; j++) {
        const int k = 4 * kq + j;
        int v = zp;
        if (k < K && p < P) {
          v = (int)nearest_f32(X[(long)k * P + p] * inv) + zp;
          v = v < 0 ? 0 : v > 127 ? 127 : v;
        }
        q[4 * p + j] = (uint8_t)v;
      }
    }
  }
  for (int p = 0; p < Pp; p++) scales[p] = scales[p] > 0.f ? scales[p] / 127.f : 0.f;
}

/* acc[j] += sum over t < 4 of w[4j + t] * q[4j + t]: the relaxed dot, or the same per-lane sums from dot_i16x8. */
static inline v128_t dot4_u7(v128_t w, v128_t q, v128_t acc) {
#ifdef RELAXED
  return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(w, q, acc);
#else
  const v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_u16x8_extend_low_u8x16(q));
  const v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_u16x8_extend_high_u8x16(q));
  return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7)));
#endif
}

/* y[p..p+3] (n of them) = clamp(f32(acc - zp * wsum) * (ws * as[p..]) + bias, lo, hi). */
static inline void store4_zp(float* y, v128_t acc, const int32_t* zp, int wsum, float ws, const float* as, float bias,
                             v128_t vlo, v128_t vhi, int n) {
  acc = wasm_i32x4_sub(acc, wasm_i32x4_mul(wasm_v128_load(zp), wasm_i32x4_splat(wsum)));
  store4(y, acc, ws, as, bias, vlo, vhi, n);
}

EXPORT(qu7_pointwise_4x8)
void qu7_pointwise_4x8(int M, int K, int P, const uint8_t* Q, const float* as, const int32_t* zps, const int8_t* Wp,
                       const int32_t* wsum, const float* ws, const float* bias, float lo, float hi, float* Y) {
  const int Pp = (P + 7) & ~7, Kq = (K + 3) / 4;
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int pb = 0; pb < Pp; pb += 64) {
    const int pe = pb + 64 < Pp ? pb + 64 : Pp;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int8_t* w = Wp + (long)(m0 / 4) * Kq * 16;
      for (int p = pb; p < pe; p += 8) {
        v128_t z = wasm_i32x4_splat(0);
        v128_t a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        const uint8_t* q = Q + (long)p * 4;
        for (int kq = 0; kq < Kq; kq++) {
          const v128_t x0 = wasm_v128_load(q + (long)kq * Pp * 4), x1 = wasm_v128_load(q + (long)kq * Pp * 4 + 16);
          const v128_t wv = wasm_v128_load(w + kq * 16);
          v128_t wi = pair(wv, 0);
          a00 = dot4_u7(wi, x0, a00); a01 = dot4_u7(wi, x1, a01);
          wi = pair(wv, 1);
          a10 = dot4_u7(wi, x0, a10); a11 = dot4_u7(wi, x1, a11);
          wi = pair(wv, 2);
          a20 = dot4_u7(wi, x0, a20); a21 = dot4_u7(wi, x1, a21);
          wi = pair(wv, 3);
          a30 = dot4_u7(wi, x0, a30); a31 = dot4_u7(wi, x1, a31);
        }
        const int n0 = P - p < 4 ? P - p : 4, n1 = P - p - 4 < 4 ? P - p - 4 : 4;
        const v128_t acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
        for (int i = 0; i < 4 && m0 + i < M; i++) {
          float* y = Y + (long)(m0 + i) * P + p;
          const float b = bias ? bias[m0 + i] : 0.f;
          store4_zp(y, acc[i][0], zps + p, wsum[m0 + i], ws[m0 + i], as + p, b, vlo, vhi, n0);
          if (n1 > 0) store4_zp(y + 4, acc[i][1], zps + p + 4, wsum[m0 + i], ws[m0 + i], as + p + 4, b, vlo, vhi, n1);
        }
      }
    }
  }
}

/* A static grid's scale, and zero point and bounds less the shift, splatted (pair_grid_levels' operands). */
struct grid {
  v128_t s, zp, lo, hi;
};

/* The pairs layout of a stride-1 filter's patches read from the zero-padded input Xp (see qs8_patch_quantize): each
 * pixel's entries at its column maximum mx[p] (pair_levels) or, where grid is given, as levels on it; zeros past P. */
static inline void patch_pairs(const float* Xp, int C, int Hp, int Wp, int kh, int kw, int dh, int dw, int OH, int OW,
                               int8_t* Q, const float* mx, const struct grid* grid) {
  const int P = OH * OW, Pp = (P + 7) & ~7, K = C * kh * kw, Kh = (K + 1) / 2;
  for (int kp = 0; kp < Kh; kp++) {
    const int k0 = 2 * kp, k1 = 2 * kp + 1;
    const long o0 = ((long)(k0 / (kh * kw)) * Hp + (k0 / kw % kh) * dh) * Wp + (k0 % kw) * dw;
    const long o1 = k1 < K ? ((long)(k1 / (kh * kw)) * Hp + (k1 / kw % kh) * dh) * Wp + (k1 % kw) * dw : -1;
    int8_t* q = Q + (long)kp * Pp * 2;
    for (int oy = 0; oy < OH; oy++) {
      const float* x0 = Xp + o0 + (long)oy * Wp;
      const float* x1 = o1 >= 0 ? Xp + o1 + (long)oy * Wp : 0;
      for (int ox = 0; ox < OW; ox += 8) {
        const int p = oy * OW + ox, n = OW - ox < 8 ? OW - ox : 8;
        /* Lanes past the row take whatever scale follows (their bytes are not stored). */
        const v128_t bytes = grid ? pair_grid_levels(x0 + ox, x1 ? x1 + ox : 0, grid->s, grid->zp, grid->lo, grid->hi)
                                  : pair_levels(x0 + ox, x1 ? x1 + ox : 0, mx + p);
        if (n == 8) wasm_v128_store(q + 2 * p, bytes);
        else store_partial_bytes(q + 2 * p, bytes, 2 * n);
      }
    }
    for (int p = P; p < Pp; p++) q[2 * p] = q[2 * p + 1] = 0;
  }
}

/* Xp (C planes of Hp x Wp, zero-padded, read at stride 1 with dilations dh x dw) as the patch planes f32_im2planes
 * would write for an OH x OW output (entry k = (c*kh + ky)*kw + kx of pixel p = oy*OW + ox is
 * Xp[c, oy + ky*dh, ox + kx*dw]), quantized by qs8_pointwise_quantize's rule into its layout, the same bytes and
 * scales, without writing the float planes: each pixel's patch is read from the input where it lies. Pixels go 8 at a
 * time along each output row, the last group of a row stored in part: Wp must be at least ceil(OW / 8) * 8 +
 * (kw - 1) * dw (the lanes past the row read padding), and up to 7 scales past P are read (and not used). */
EXPORT(qs8_patch_quantize)
void qs8_patch_quantize(const float* Xp, int C, int Hp, int Wp, int kh, int kw, int dh, int dw, int OH, int OW, int8_t* Q,
                        float* scales) {
  const int P = OH * OW, Pp = (P + 7) & ~7;
  const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
  for (int oy = 0; oy < OH; oy++) {
    for (int ox = 0; ox < OW; ox += 8) {
      v128_t m0 = wasm_f32x4_splat(0.f), m1 = m0;
      for (int c = 0; c < C; c++)
        for (int ky = 0; ky < kh; ky++) {
          const float* row = Xp + ((long)c * Hp + oy + ky * dh) * Wp + ox;
          for (int kx = 0; kx < kw; kx++) {
            m0 = wasm_f32x4_pmax(m0, wasm_v128_and(wasm_v128_load(row + kx * dw), absmask));
            m1 = wasm_f32x4_pmax(m1, wasm_v128_and(wasm_v128_load(row + kx * dw + 4), absmask));
          }
        }
      const int n = OW - ox < 8 ? OW - ox : 8;
      float* s = scales + oy * OW + ox;
      if (n < 4) {
        store_partial_bytes(s, m0, 4 * n);
      } else {
        wasm_v128_store(s, m0);
        if (n == 8) wasm_v128_store(s + 4, m1);
        else store_partial_bytes(s + 4, m1, 4 * (n - 4));
      }
    }
  }
  for (int p = P; p < Pp; p++) scales[p] = 0.f;
  patch_pairs(Xp, C, Hp, Wp, kh, kw, dh, dw, OH, OW, Q, scales, 0);
  for (int p = 0; p < Pp; p++) scales[p] = scales[p] / 127.f;
}

/* The same for qu7_pointwise_quantize's rule and layout (unsigned 7-bit levels with a zero point per pixel), 4 pixels
 * at a time along each row; Wp as for qs8_patch_quantize. */
EXPORT(qu7_patch_quantize)
void qu7_patch_quantize(const float* Xp, int C, int Hp, int Wp, int kh, int kw, int dh, int dw, int OH, int OW, uint8_t* Q,
                        float* scales, int32_t* zero_points) {
  const int P = OH * OW, Pp = (P + 7) & ~7, K = C * kh * kw, Kq = (K + 3) / 4;
  for (int oy = 0; oy < OH; oy++) {
    for (int ox = 0; ox < OW; ox += 8) {
      v128_t lo0 = wasm_f32x4_splat(0.f), lo1 = lo0, hi0 = lo0, hi1 = lo0;
      for (int c = 0; c < C; c++)
        for (int ky = 0; ky < kh; ky++) {
          const float* row = Xp + ((long)c * Hp + oy + ky * dh) * Wp + ox;
          for (int kx = 0; kx < kw; kx++) {
            const v128_t v0 = wasm_v128_load(row + kx * dw), v1 = wasm_v128_load(row + kx * dw + 4);
            lo0 = wasm_f32x4_pmin(lo0, v0);
            hi0 = wasm_f32x4_pmax(hi0, v0);
            lo1 = wasm_f32x4_pmin(lo1, v1);
            hi1 = wasm_f32x4_pmax(hi1, v1);
          }
        }
      float lo[8], hi[8];
      wasm_v128_store(lo, lo0);
      wasm_v128_store(lo + 4, lo1);
      wasm_v128_store(hi, hi0);
      wasm_v128_store(hi + 4, hi1);
      const int p = oy * OW + ox, n = OW - ox < 8 ? OW - ox : 8;
      for (int j = 0; j < n; j++) column_range(lo[j], hi[j], scales + p + j, zero_points + p + j);
    }
  }
  for (int p = P; p < Pp; p++) column_range(0.f, 0.f, scales + p, zero_points + p);
  const v128_t zero = wasm_f32x4_splat(0.f), q0 = wasm_i32x4_splat(0), q127 = wasm_i32x4_splat(127);
  for (int kq = 0; kq < Kq; kq++) {
    long off[4];
    for (int j = 0; j < 4; j++) {
      const int k = 4 * kq + j;
      off[j] = k < K ? ((long)(k / (kh * kw)) * Hp + (k / kw % kh) * dh) * Wp + (k % kw) * dw : -1;
    }
    uint8_t* q = Q + (long)kq * Pp * 4;
    for (int oy = 0; oy < OH; oy++) {
      const long rowbase = (long)oy * Wp;
      for (int ox = 0; ox < OW; ox += 4) {
        const int p = oy * OW + ox, n = OW - ox < 4 ? OW - ox : 4;
        /* Lanes past the row take whatever range follows (their bytes are not stored). */
        const v128_t range = wasm_v128_load(scales + p), zp = wasm_v128_load(zero_points + p);
        const v128_t inv = wasm_v128_and(wasm_f32x4_div(wasm_f32x4_splat(127.f), range), wasm_f32x4_gt(range, zero));
        v128_t r[4];
        for (int j = 0; j < 4; j++) {
          if (off[j] >= 0) {
            const v128_t v = wasm_i32x4_add(round_i32x4(wasm_f32x4_mul(wasm_v128_load(Xp + off[j] + rowbase + ox), inv)), zp);
            r[j] = wasm_i32x4_min(wasm_i32x4_max(v, q0), q127);
          } else {
            r[j] = zp;
          }
        }
        const v128_t bytes = quad_bytes(r);
        if (n == 4) wasm_v128_store(q + 4 * p, bytes);
        else store_partial_bytes(q + 4 * p, bytes, 4 * n);
      }
    }
    for (int p = P; p < Pp; p++)
      for (int j = 0; j < 4; j++) q[4 * p + j] = (uint8_t)zero_points[p];
  }
  for (int p = 0; p < Pp; p++) scales[p] = scales[p] > 0.f ? scales[p] / 127.f : 0.f;
}

/* The static grid's form of qs8_patch_quantize: a stride-1 filter's patches read from the zero-padded input (zeros
 * at zp's level), the bytes qs8_pointwise_quantize_static writes from im2planes' planes; Wp as for
 * qs8_patch_quantize. */
EXPORT(qs8_patch_quantize_static)
void qs8_patch_quantize_static(const float* Xp, int C, int Hp, int Wp, int kh, int kw, int dh, int dw, int OH, int OW, int8_t* Q,
                               float s, float zp, float lo, float hi, float shift) {
  const struct grid g = {wasm_f32x4_splat(s), wasm_f32x4_splat(zp - shift), wasm_f32x4_splat(lo - shift), wasm_f32x4_splat(hi - shift)};
  patch_pairs(Xp, C, Hp, Wp, kh, kw, dh, dw, OH, OW, Q, 0, &g);
}
