/* The compression math the quantizers and pruners use, over a row-major [rows, cols] fp32 matrix:
 * absmax and min/max per row and per column, round-and-clamp to integers with per-row or per-column scales,
 * int4 and 1-bit packing, histograms and the magnitude threshold that zeroes a given fraction. */
#include "common.h"

EXPORT(absmax_rows)
void absmax_rows(int rows, int cols, const float* X, float* out) {
  const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * cols;
    v128_t v = wasm_f32x4_splat(0.f);
    int c = 0;
    for (; c + 4 <= cols; c += 4) v = wasm_f32x4_pmax(v, wasm_v128_and(wasm_v128_load(x + c), absmask));
    float m = 0.f;
    float l[4] = {wasm_f32x4_extract_lane(v, 0), wasm_f32x4_extract_lane(v, 1), wasm_f32x4_extract_lane(v, 2),
                  wasm_f32x4_extract_lane(v, 3)};
    for (int i = 0; i < 4; i++) m = m < l[i] ? l[i] : m;
    for (; c < cols; c++) {
      float a = x[c] < 0 ? -x[c] : x[c];
      m = m < a ? a : m;
    }
    out[r] = m;
  }
}

EXPORT(absmax_cols)
void absmax_cols(int rows, int cols, const float* X, float* out) {
  for (int c = 0; c < cols; c++) out[c] = 0.f;
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * cols;
    for (int c = 0; c < cols; c++) {
      float a = x[c] < 0 ? -x[c] : x[c];
      out[c] = out[c] < a ? a : out[c];
    }
  }
}

/* out[2r] = min of row r, out[2r+1] = max (0 for an empty row). */
EXPORT(minmax_rows)
void minmax_rows(int rows, int cols, const float* X, float* out) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * cols;
    float lo = cols > 0 ? x[0] : 0.f, hi = lo;
    for (int c = 1; c < cols; c++) {
      lo = x[c] < lo ? x[c] : lo;
      hi = hi < x[c] ? x[c] : hi;
    }
    out[2 * r] = lo;
    out[2 * r + 1] = hi;
  }
}

/* out[c] = min/max of column c (out[2c], out[2c+1]). */
EXPORT(minmax_cols)
void minmax_cols(int rows, int cols, const float* X, float* out) {
  for (int c = 0; c < cols; c++) {
    out[2 * c] = rows > 0 ? X[c] : 0.f;
    out[2 * c + 1] = out[2 * c];
  }
  for (int r = 1; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      const float v = X[(long)r * cols + c];
      out[2 * c] = v < out[2 * c] ? v : out[2 * c];
      out[2 * c + 1] = out[2 * c + 1] < v ? v : out[2 * c + 1];
    }
}

/* Q = clamp(nearest(X / scale) + zero_point, qmin, qmax) with one scale and zero point per row (per_col = 0) or per
 * column (per_col = 1); nearest rounds half to even; a zero scale gives the zero point. */
EXPORT(quantize_round_clamp)
void quantize_round_clamp(int rows, int cols, const float* X, const float* scales, const int32_t* zero_points,
                          int per_col, int qmin, int qmax, int8_t* Q) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      const int i = per_col ? c : r;
      const float s = scales[i];
      int q = zero_points[i];
      if (s != 0.f) q += (int)nearest_f32(X[(long)r * cols + c] / s);
      Q[(long)r * cols + c] = (int8_t)(q < qmin ? qmin : q > qmax ? qmax : q);
    }
}

/* Two int4 values per byte, element 2i in the low nibble (ONNX INT4 order). */
EXPORT(pack_int4)
void pack_int4(int n, const int8_t* q, uint8_t* out) {
  for (int i = 0; i + 1 < n; i += 2) out[i / 2] = (uint8_t)((q[i] & 15) | ((q[i + 1] & 15) << 4));
  if (n & 1) out[n / 2] = (uint8_t)(q[n - 1] & 15);
}

/* Bit i of out (byte i/8, bit i%8) = x[i] >= 0; SIMD bitmask per 8 floats. */
EXPORT(pack_sign_bits)
void pack_sign_bits(int n, const float* x, uint8_t* out) {
  const v128_t zero = wasm_f32x4_splat(0.f);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    out[i / 8] = (uint8_t)(wasm_i32x4_bitmask(wasm_f32x4_ge(wasm_v128_load(x + i), zero)) |
                           (wasm_i32x4_bitmask(wasm_f32x4_ge(wasm_v128_load(x + i + 4), zero)) << 4));
  if (i < n) {
    uint8_t b = 0;
    for (int j = i; j < n; j++) b |= (uint8_t)((x[j] >= 0.f) << (j - i));
    out[i / 8] = b;
  }
}

/* counts[b] += number of x in bin b of `bins` equal bins over [lo, hi] (values outside are clamped into the ends). */
EXPORT(histogram)
void histogram(int n, const float* x, float lo, float hi, int bins, uint32_t* counts) {
  const float width = (hi - lo) / (float)bins;
  for (int i = 0; i < n; i++) {
    int b = width > 0.f ? (int)((x[i] - lo) / width) : 0;
    b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
    counts[b]++;
  }
}

/* The k-th smallest |x| (0-based), by radix selection on the bits of |x| (non-negative floats order as integers);
 * zeroing every |x| < threshold removes at most k values. k must be < n. */
EXPORT(magnitude_threshold)
float magnitude_threshold(int n, const float* x, int k) {
  uint32_t counts[256];
  uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = 0; b < 256; b++) counts[b] = 0;
    for (int i = 0; i < n; i++) {
      union { float f; uint32_t u; } v = {x[i]};
      const uint32_t u = v.u & 0x7fffffffu;
      if ((u & mask) == prefix) counts[(u >> shift) & 255]++;
    }
    int b = 0;
    while ((uint32_t)k >= counts[b]) k -= (int)counts[b++];
    prefix |= (uint32_t)b << shift;
    mask |= 255u << shift;
  }
  union { uint32_t u; float f; } r = {prefix};
  return r.f;
}
