/* Shared definitions for the freestanding kernels: exports, fixed-width types, SIMD helpers.
 * Built twice: plain SIMD128 and with RELAXED defined (relaxed-SIMD paths). */
#ifndef SLIMSERVE_COMMON_H
#define SLIMSERVE_COMMON_H
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#ifdef RELAXED
#define F32X4_MADD(a, b, c) wasm_f32x4_relaxed_madd((a), (b), (c))
#else
#define F32X4_MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

/* Clamp that keeps NaN (pmax/pmin compile to single min/max instructions). */
static inline v128_t clamp_f32x4(v128_t x, v128_t lo, v128_t hi) {
  return wasm_f32x4_pmin(wasm_f32x4_pmax(x, lo), hi);
}

static inline float clamp_f32(float x, float lo, float hi) {
  x = x < lo ? lo : x;
  return hi < x ? hi : x;
}

/* Sum of each of four i32x4 vectors, as one i32x4 (lane j = sum of v_j). */
static inline v128_t hsum4_i32x4(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  v128_t s01 = wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 1, 4, 5), wasm_i32x4_shuffle(v0, v1, 2, 3, 6, 7));
  v128_t s23 = wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 1, 4, 5), wasm_i32x4_shuffle(v2, v3, 2, 3, 6, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 2, 4, 6), wasm_i32x4_shuffle(s01, s23, 1, 3, 5, 7));
}

static inline v128_t hsum4_f32x4(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 1, 4, 5), wasm_i32x4_shuffle(v0, v1, 2, 3, 6, 7));
  v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 1, 4, 5), wasm_i32x4_shuffle(v2, v3, 2, 3, 6, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 2, 4, 6), wasm_i32x4_shuffle(s01, s23, 1, 3, 5, 7));
}

/* Stores the first `n` (< 4) lanes of an f32x4. */
static inline void store_partial_f32x4(float* dst, v128_t v, int n) {
  if (n > 0) dst[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) dst[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) dst[2] = wasm_f32x4_extract_lane(v, 2);
}

/* Stores the first `n` (< 16) bytes of a vector. */
static inline void store_partial_bytes(void* dst, v128_t v, int n) {
  unsigned char* d = (unsigned char*)dst;
  if (n & 8) {
    wasm_v128_store64_lane(d, v, 0);
    v = wasm_i64x2_shuffle(v, v, 1, 1);
    d += 8;
  }
  if (n & 4) {
    wasm_v128_store32_lane(d, v, 0);
    v = wasm_u64x2_shr(v, 32);
    d += 4;
  }
  if (n & 2) {
    wasm_v128_store16_lane(d, v, 0);
    v = wasm_u64x2_shr(v, 16);
    d += 2;
  }
  if (n & 1) wasm_v128_store8_lane(d, v, 0);
}

/* nearest(y) as int32, ties to even, for |y| < 2^22: adding 1.5 * 2^23 leaves the rounded integer in the low
 * mantissa bits. One float add and one integer subtract where trunc_sat(nearest(y)) lowers to about a dozen x64
 * instructions (NaN lanes give garbage rather than 0, so callers bound y first or accept that). */
#define ROUND_SHIFT 12582912.f /* 1.5 * 2^23, whose bits are 0x4B400000 */
static inline v128_t round_i32x4(v128_t y) {
  return wasm_i32x4_sub(wasm_f32x4_add(y, wasm_f32x4_splat(ROUND_SHIFT)), wasm_i32x4_splat(0x4B400000));
}

static inline float nearest_f32(float x) {
  return wasm_f32x4_extract_lane(wasm_f32x4_nearest(wasm_f32x4_splat(x)), 0);
}

/* ONNX QuantizeLinear's levels on a static 8-bit grid, clamp(nearest(x / s) + zp, lo, hi), as floats. Division, not
 * a reciprocal, as QuantizeLinear divides: a value half a level from a boundary rounds as the spec says. A NaN input
 * clamps to lo in both forms (pmax and the scalar comparison keep lo), so the levels convert to integers safely. */
static inline v128_t grid_levels_f32x4(v128_t x, v128_t s, v128_t zp, v128_t lo, v128_t hi) {
  v128_t r = wasm_f32x4_add(wasm_f32x4_nearest(wasm_f32x4_div(x, s)), zp);
  return wasm_f32x4_pmin(hi, wasm_f32x4_pmax(lo, r));
}

static inline float grid_levels_f32(float x, float s, float zp, float lo, float hi) {
  float r = nearest_f32(x / s) + zp;
  r = lo < r ? r : lo;
  return r < hi ? r : hi;
}

#endif
