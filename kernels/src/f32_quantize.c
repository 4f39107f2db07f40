/* Activations on a static 8-bit grid, as ONNX's QuantizeLinear / DequantizeLinear with one scale and zero point:
 *  - f32_quantize_linear: Y = clamp(nearest(X / s) + zp, lo, hi) (the levels, held as floats);
 *  - f32_dequantize_linear: Y = (X - zp) * s;
 *  - f32_quantize_dequantize_linear: the two in one pass, Y = (clamp(nearest(X / s) + zp, lo, hi) - zp) * s, the same
 *    operations in the same order (a QuantizeLinear whose levels only a DequantizeLinear on its grid reads);
 *  - qs8_quantize_rows_static: rows of A on that grid for the int8 GEMM, Q = clamp(nearest(a / s) + zp, lo, hi) - shift
 *    as int8 (shift 128 for uint8 levels, 0 for int8), K padded with zeros to Kp. Division, not a reciprocal, as
 *    QuantizeLinear divides: a value half a level from a boundary rounds as the spec says. The clamped levels are
 *    whole numbers (a NaN input clamps to lo), so they convert to int32 through the float adder exactly.
 * grid_levels_f32x4 and grid_levels_f32 (common.h) compute the levels. */
#include "common.h"

EXPORT(f32_quantize_linear)
void f32_quantize_linear(int n, const float* X, float s, float zp, float lo, float hi, float* Y) {
  const v128_t vs = wasm_f32x4_splat(s), vz = wasm_f32x4_splat(zp), vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(Y + i, grid_levels_f32x4(wasm_v128_load(X + i), vs, vz, vlo, vhi));
  for (; i < n; i++) Y[i] = grid_levels_f32(X[i], s, zp, lo, hi);
}

EXPORT(f32_dequantize_linear)
void f32_dequantize_linear(int n, const float* X, float s, float zp, float* Y) {
  const v128_t vs = wasm_f32x4_splat(s), vz = wasm_f32x4_splat(zp);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(Y + i, wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(X + i), vz), vs));
  for (; i < n; i++) Y[i] = (X[i] - zp) * s;
}

EXPORT(f32_quantize_dequantize_linear)
void f32_quantize_dequantize_linear(int n, const float* X, float s, float zp, float lo, float hi, float* Y) {
  const v128_t vs = wasm_f32x4_splat(s), vz = wasm_f32x4_splat(zp), vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t level = grid_levels_f32x4(wasm_v128_load(X + i), vs, vz, vlo, vhi);
    wasm_v128_store(Y + i, wasm_f32x4_mul(wasm_f32x4_sub(level, vz), vs));
  }
  for (; i < n; i++) Y[i] = (grid_levels_f32(X[i], s, zp, lo, hi) - zp) * s;
}

EXPORT(qs8_quantize_rows_static)
void qs8_quantize_rows_static(int M, int K, int Kp, const float* A, int lda, float s, float zp, float lo, float hi,
                              float shift, int8_t* Q) {
  const v128_t vs = wasm_f32x4_splat(s), vz = wasm_f32x4_splat(zp - shift), vlo = wasm_f32x4_splat(lo - shift),
               vhi = wasm_f32x4_splat(hi - shift);
  for (int m = 0; m < M; m++) {
    const float* a = A + (long)m * lda;
    int8_t* q = Q + (long)m * Kp;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
      v128_t i0 = round_i32x4(grid_levels_f32x4(wasm_v128_load(a + k), vs, vz, vlo, vhi));
      v128_t i1 = round_i32x4(grid_levels_f32x4(wasm_v128_load(a + k + 4), vs, vz, vlo, vhi));
      v128_t i2 = round_i32x4(grid_levels_f32x4(wasm_v128_load(a + k + 8), vs, vz, vlo, vhi));
      v128_t i3 = round_i32x4(grid_levels_f32x4(wasm_v128_load(a + k + 12), vs, vz, vlo, vhi));
      wasm_v128_store(q + k, wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(i0, i1), wasm_i16x8_narrow_i32x4(i2, i3)));
    }
    for (; k < K; k++) q[k] = (int8_t)(int)grid_levels_f32(a[k], s, zp - shift, lo - shift, hi - shift);
    for (; k < Kp; k++) q[k] = 0;
  }
}
