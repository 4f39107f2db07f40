/* The compression math the quantizers run in WebAssembly: symmetric per-channel int8 weight quantization
 * ("qpc"), driven by worker/compress/simd-quantize.ts for the weight-only and dynamic int8 quantizers. */
#include "common.h"

/* Symmetric per-channel weight quantization ("qpc"), with exactly the semantics of the scalar code in
 * worker/compress/quantize/weights.ts so that the int8 values and float32 scales are bit-identical:
 *   absmax_c over the channel; scale_c = f32(absmax_c / qmax) (1 for an all-zero channel); inv_c = 1 / scale_c in
 *   double; q = clamp(round(w * inv_c), -qmax, qmax) with JavaScript's Math.round (half toward +inf), computed as
 *   r = floor(x), r += (x - r >= 0.5) (exact for doubles; floor(x + 0.5) is not, e.g. at 0.49999999999999994);
 *   NaN becomes 0 and +-inf saturates, as JS's clamp and Int8Array store do.
 * Error statistics of the reconstruction f32(q * scale_c) (q * scale is exact in double, so one f32 multiply gives
 * the same value): stats[0] += sum w^2, stats[1] += sum e^2, stats[2] = max(stats[2], max |e|), e = w - rec in
 * double. They are sums in another order than the scalar code: equal up to rounding, not bit for bit.
 * Two layouts: "columns" (channels the fastest axis: rows x channels) and "blocks" (contiguous blocks of `inner`
 * elements; block b belongs to channel (first + b) % channels). Callers may split a tensor into row or block ranges
 * (absmax accumulates, the stats accumulate), so a bounded scratch memory serves any tensor size. */
#pragma clang fp contract(off)

static inline v128_t round_half_up_f64x2(v128_t x) {
  const v128_t r = wasm_f64x2_floor(x);
  const v128_t up = wasm_f64x2_ge(wasm_f64x2_sub(x, r), wasm_f64x2_splat(0.5));
  return wasm_f64x2_add(r, wasm_v128_and(up, wasm_f64x2_splat(1.0)));
}

/* Four weights to four clamped integers (i32 lanes); inv_lo / inv_hi hold the reciprocals of lanes 0-1 / 2-3. */
static inline v128_t qpc_quantize4(v128_t w, v128_t inv_lo, v128_t inv_hi, v128_t lo, v128_t hi) {
  const v128_t x0 = wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(w), inv_lo);
  const v128_t x1 = wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(w, w, 2, 3, 2, 3)), inv_hi);
  /* The rounded values are integers, so truncation is exact; NaN -> 0 and +-inf -> INT_MIN/MAX, then the clamp. */
  const v128_t q = wasm_i32x4_shuffle(wasm_i32x4_trunc_sat_f64x2_zero(round_half_up_f64x2(x0)),
                                      wasm_i32x4_trunc_sat_f64x2_zero(round_half_up_f64x2(x1)), 0, 1, 4, 5);
  return wasm_i32x4_min(wasm_i32x4_max(q, lo), hi);
}

typedef struct {
  v128_t signal, noise, max_abs;
} qpc_stats;

static inline void qpc_stats4(qpc_stats* st, v128_t w, v128_t q, v128_t s) {
  const v128_t rec = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), s);
  const v128_t w0 = wasm_f64x2_promote_low_f32x4(w);
  const v128_t w1 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(w, w, 2, 3, 2, 3));
  const v128_t e0 = wasm_f64x2_sub(w0, wasm_f64x2_promote_low_f32x4(rec));
  const v128_t e1 = wasm_f64x2_sub(w1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(rec, rec, 2, 3, 2, 3)));
  st->signal = wasm_f64x2_add(st->signal, wasm_f64x2_add(wasm_f64x2_mul(w0, w0), wasm_f64x2_mul(w1, w1)));
  st->noise = wasm_f64x2_add(st->noise, wasm_f64x2_add(wasm_f64x2_mul(e0, e0), wasm_f64x2_mul(e1, e1)));
  st->max_abs = wasm_f64x2_pmax(st->max_abs, wasm_f64x2_pmax(wasm_f64x2_abs(e0), wasm_f64x2_abs(e1)));
}

static inline void store_i8x4(int8_t* dst, v128_t q) {
  const v128_t b = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q, q), wasm_i16x8_narrow_i32x4(q, q));
  wasm_v128_store32_lane(dst, b, 0);
}

static inline int qpc_quantize1(float w, double inv, int qmax) {
  const double x = (double)w * inv;
  double r = __builtin_floor(x);
  if (x - r >= 0.5) r += 1.0;
  if (r != r) return 0;
  return r > qmax ? qmax : r < -qmax ? -qmax : (int)r;
}

static inline void qpc_stats1(double* signal, double* noise, double* max_abs, float w, int q, float s) {
  const float rec = (float)q * s;
  const double e = (double)w - (double)rec;
  *signal += (double)w * (double)w;
  *noise += e * e;
  const double a = e < 0 ? -e : e;
  if (a > *max_abs) *max_abs = a;
}

static inline void qpc_finish(double* stats, qpc_stats st, double signal, double noise, double max_abs) {
  signal += wasm_f64x2_extract_lane(st.signal, 0) + wasm_f64x2_extract_lane(st.signal, 1);
  noise += wasm_f64x2_extract_lane(st.noise, 0) + wasm_f64x2_extract_lane(st.noise, 1);
  const double m0 = wasm_f64x2_extract_lane(st.max_abs, 0), m1 = wasm_f64x2_extract_lane(st.max_abs, 1);
  if (m0 > max_abs) max_abs = m0;
  if (m1 > max_abs) max_abs = m1;
  stats[0] += signal;
  stats[1] += noise;
  if (max_abs > stats[2]) stats[2] = max_abs;
}

/* absmax[c] = max(absmax[c], |x|) over `rows` rows of `channels` values (NaN is ignored, as in the JS). */
EXPORT(qpc_absmax_columns)
void qpc_absmax_columns(int rows, int channels, const float* X, float* absmax) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * channels;
    int c = 0;
    for (; c + 4 <= channels; c += 4)
      wasm_v128_store(absmax + c, wasm_f32x4_pmax(wasm_v128_load(absmax + c), wasm_f32x4_abs(wasm_v128_load(x + c))));
    for (; c < channels; c++) {
      const float a = x[c] < 0 ? -x[c] : x[c];
      if (a > absmax[c]) absmax[c] = a;
    }
  }
}

EXPORT(qpc_absmax_blocks)
void qpc_absmax_blocks(int first, int count, int channels, int inner, const float* X, float* absmax) {
  int c = first % channels;
  for (int b = 0; b < count; b++) {
    const float* x = X + (long)b * inner;
    v128_t v = wasm_f32x4_splat(absmax[c]);
    int i = 0;
    for (; i + 4 <= inner; i += 4) v = wasm_f32x4_pmax(v, wasm_f32x4_abs(wasm_v128_load(x + i)));
    float m = absmax[c];
    for (int l = 0; l < 4; l++) {
      const float a = l == 0 ? wasm_f32x4_extract_lane(v, 0) : l == 1 ? wasm_f32x4_extract_lane(v, 1)
                    : l == 2 ? wasm_f32x4_extract_lane(v, 2) : wasm_f32x4_extract_lane(v, 3);
      if (a > m) m = a;
    }
    for (; i < inner; i++) {
      const float a = x[i] < 0 ? -x[i] : x[i];
      if (a > m) m = a;
    }
    absmax[c] = m;
    if (++c == channels) c = 0;
  }
}

/* scale_c = f32(absmax_c / qmax), or 1 for an all-zero channel; inv_c = 1 / scale_c in double. */
EXPORT(qpc_scales)
void qpc_scales(int channels, int qmax, const float* absmax, float* scales, double* inv) {
  for (int c = 0; c < channels; c++) {
    const float s = absmax[c] > 0 ? (float)((double)absmax[c] / (double)qmax) : 1.f;
    scales[c] = s;
    inv[c] = 1.0 / (double)s;
  }
}

EXPORT(qpc_quantize_columns)
void qpc_quantize_columns(int rows, int channels, const float* X, const double* inv, const float* scales, int qmax,
                          int8_t* Q, double* stats) {
  const v128_t hi = wasm_i32x4_splat(qmax), lo = wasm_i32x4_splat(-qmax);
  qpc_stats st = {wasm_f64x2_splat(0), wasm_f64x2_splat(0), wasm_f64x2_splat(0)};
  double signal = 0, noise = 0, max_abs = 0;
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * channels;
    int8_t* q = Q + (long)r * channels;
    int c = 0;
    for (; c + 4 <= channels; c += 4) {
      const v128_t w = wasm_v128_load(x + c);
      const v128_t qi = qpc_quantize4(w, wasm_v128_load(inv + c), wasm_v128_load(inv + c + 2), lo, hi);
      store_i8x4(q + c, qi);
      qpc_stats4(&st, w, qi, wasm_v128_load(scales + c));
    }
    for (; c < channels; c++) {
      const int qi = qpc_quantize1(x[c], inv[c], qmax);
      q[c] = (int8_t)qi;
      qpc_stats1(&signal, &noise, &max_abs, x[c], qi, scales[c]);
    }
  }
  qpc_finish(stats, st, signal, noise, max_abs);
}

EXPORT(qpc_quantize_blocks)
void qpc_quantize_blocks(int first, int count, int channels, int inner, const float* X, const double* inv,
                         const float* scales, int qmax, int8_t* Q, double* stats) {
  const v128_t hi = wasm_i32x4_splat(qmax), lo = wasm_i32x4_splat(-qmax);
  qpc_stats st = {wasm_f64x2_splat(0), wasm_f64x2_splat(0), wasm_f64x2_splat(0)};
  double signal = 0, noise = 0, max_abs = 0;
  int c = first % channels;
  for (int b = 0; b < count; b++) {
    const float* x = X + (long)b * inner;
    int8_t* q = Q + (long)b * inner;
    const v128_t k = wasm_f64x2_splat(inv[c]);
    const v128_t s = wasm_f32x4_splat(scales[c]);
    int i = 0;
    for (; i + 4 <= inner; i += 4) {
      const v128_t w = wasm_v128_load(x + i);
      const v128_t qi = qpc_quantize4(w, k, k, lo, hi);
      store_i8x4(q + i, qi);
      qpc_stats4(&st, w, qi, s);
    }
    for (; i < inner; i++) {
      const int qi = qpc_quantize1(x[i], inv[c], qmax);
      q[i] = (int8_t)qi;
      qpc_stats1(&signal, &noise, &max_abs, x[i], qi, scales[c]);
    }
    if (++c == channels) c = 0;
  }
  qpc_finish(stats, st, signal, noise, max_abs);
}
