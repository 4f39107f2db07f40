/* Direct depthwise convolution (NCHW, one filter per channel) and the col2im gather of ConvTranspose.
 *
 * Depthwise: each channel's plane is first copied into a zero-padded scratch plane, so the inner loops never test
 * bounds. 3x3 and 5x5 filters at stride 1 or 2 (dilation 1) run SIMD128 over four output columns with the filter
 * taps held in registers; other sizes and dilations at column stride 1 or 2 run SIMD128 the same way with each tap
 * splatted as it is read; a row's last one to three columns are a group of four whose extra lanes are dropped (7 x 7
 * and 14 x 14 planes have no scalar tail). Column strides of 3 and up take the scalar path. The epilogue is fused: the caller folds
 * per-channel scales into the weights, the kernel adds the bias and clamps to [lo, hi]. Quantized (int8/int4)
 * depthwise weights are tiny, so the engine dequantizes them at load and runs them here in fp32. */
#include "common.h"

/* The padded plane: rows [0, PH), columns [0, PW), input pixel (iy, ix) at (iy + pt, ix + pl), zeros elsewhere. */
static void pad_plane(const float* x, int H, int W, int pt, int pl, int PH, int PW, float* P) {
  for (int py = 0; py < PH; py++) {
    float* row = P + (long)py * PW;
    const int iy = py - pt;
    if (iy < 0 || iy >= H) {
      for (int px = 0; px < PW; px++) row[px] = 0.f;
      continue;
    }
    const float* src = x + (long)iy * W;
    int px = 0;
    for (; px < pl && px < PW; px++) row[px] = 0.f;
    int n = W < PW - pl ? W : PW - pl;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(row + pl + i, wasm_v128_load(src + i));
    for (; i < n; i++) row[pl + i] = src[i];
    for (px = pl + (n > 0 ? n : 0); px < PW; px++) row[px] = 0.f;
  }
}

/* Scalar reference over the padded plane: any filter size, stride and dilation; columns [ox0, OW). */
static void dw_scalar(const float* P, int PW, const float* w, int kh, int kw, int sh, int sw, int dh, int dw, int OH,
                      int OW, int ox0, float b, float lo, float hi, float* y) {
  for (int oy = 0; oy < OH; oy++)
    for (int ox = ox0; ox < OW; ox++) {
      float acc = 0.f;
      for (int ky = 0; ky < kh; ky++) {
        const float* r = P + (long)(oy * sh + ky * dh) * PW + ox * sw;
        for (int kx = 0; kx < kw; kx++) acc += r[kx * dw] * w[ky * kw + kx];
      }
      y[(long)oy * OW + ox] = clamp_f32(acc + b, lo, hi);
    }
}

/* Four consecutive outputs' inputs for tap kx: stride 1 is one unaligned load, stride 2 the even lanes of two. */
static inline v128_t taps_s1(const float* r) { return wasm_v128_load(r); }
static inline v128_t taps_s2(const float* r) {
  return wasm_i32x4_shuffle(wasm_v128_load(r), wasm_v128_load(r + 4), 0, 2, 4, 6);
}

/* Stores the first `cols` (1 to 4) lanes. */
static inline void store_cols(float* dst, v128_t v, int cols) {
  if (cols == 4) wasm_v128_store(dst, v);
  else store_partial_f32x4(dst, v, cols);
}

/* K x K filter, stride S, four columns a step, two output rows at a time (each of the K + S input rows is loaded once
 * for both). The last step of a row computes four columns and stores those that exist: its loads read at most 7
 * floats past the row's padded end, into the next row or the 8 spare floats after the plane, and the lanes they
 * feed are dropped. Returns OW (no scalar tail). */
#define DW_SIMD(NAME, K, S, TAPS)                                                                                     \
  static int NAME(const float* P, int PW, const float* w, int OH, int OW, float b, float lo, float hi, float* y) {  \
    v128_t wv[K * K];                                                                                               \
    for (int i = 0; i < K * K; i++) wv[i] = wasm_f32x4_splat(w[i]);                                                \
    const v128_t vb = wasm_f32x4_splat(b), vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);                 \
    int oy = 0;                                                                                                     \
    for (; oy + 2 <= OH; oy += 2) {                                                                                 \
      const float* r0 = P + (long)(oy * S) * PW;                                                                    \
      float* out = y + (long)oy * OW;                                                                               \
      for (int ox = 0; ox < OW; ox += 4) {                                                                          \
        const int cols = OW - ox < 4 ? OW - ox : 4;                                                                 \
        v128_t acc0 = vb, acc1 = vb;                                                                                \
        for (int r = 0; r < K + S; r++) {                                                                           \
          const float* row = r0 + (long)r * PW + ox * S;                                                            \
          for (int kx = 0; kx < K; kx++) {                                                                          \
            const v128_t t = TAPS(row + kx);                                                                        \
            if (r < K) acc0 = F32X4_MADD(t, wv[r * K + kx], acc0);                                                  \
            if (r >= S) acc1 = F32X4_MADD(t, wv[(r - S) * K + kx], acc1);                                           \
          }                                                                                                         \
        }                                                                                                           \
        store_cols(out + ox, clamp_f32x4(acc0, vlo, vhi), cols);                                                    \
        store_cols(out + OW + ox, clamp_f32x4(acc1, vlo, vhi), cols);                                               \
      }                                                                                                             \
    }                                                                                                               \
    for (; oy < OH; oy++) {                                                                                         \
      const float* r0 = P + (long)(oy * S) * PW;                                                                    \
      float* out = y + (long)oy * OW;                                                                               \
      for (int ox = 0; ox < OW; ox += 4) {                                                                          \
        const int cols = OW - ox < 4 ? OW - ox : 4;                                                                 \
        v128_t acc = vb;                                                                                            \
        for (int ky = 0; ky < K; ky++) {                                                                            \
          const float* r = r0 + (long)ky * PW + ox * S;                                                             \
          for (int kx = 0; kx < K; kx++) acc = F32X4_MADD(TAPS(r + kx), wv[ky * K + kx], acc);                      \
        }                                                                                                           \
        store_cols(out + ox, clamp_f32x4(acc, vlo, vhi), cols);                                                     \
      }                                                                                                             \
    }                                                                                                               \
    return OW;                                                                                                      \
  }

DW_SIMD(dw3_s1, 3, 1, taps_s1)
DW_SIMD(dw3_s2, 3, 2, taps_s2)
DW_SIMD(dw5_s1, 5, 1, taps_s1)
DW_SIMD(dw5_s2, 5, 2, taps_s2)

/* Any other filter (1 x K of 1-D models, 7 x 7, 3 x 1, ...) and dilation at column stride 1 or 2: four columns a
 * step, taps splatted as they are read (a filter's taps do not all fit in registers); returns the first column left
 * to the scalar tail. */
static int dw_any(const float* P, int PW, const float* w, int kh, int kw, int sh, int sw, int dh, int dw, int OH, int OW,
                  float b, float lo, float hi, float* y) {
  const v128_t vb = wasm_f32x4_splat(b), vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int oy = 0; oy < OH; oy++) {
    float* out = y + (long)oy * OW;
    for (int ox = 0; ox < OW; ox += 4) {
      const int cols = OW - ox < 4 ? OW - ox : 4;
      v128_t acc = vb;
      for (int ky = 0; ky < kh; ky++) {
        const float* r = P + (long)(oy * sh + ky * dh) * PW + (long)ox * sw;
        const float* wk = w + ky * kw;
        if (sw == 1)
          for (int kx = 0; kx < kw; kx++) acc = F32X4_MADD(taps_s1(r + kx * dw), wasm_f32x4_splat(wk[kx]), acc);
        else
          for (int kx = 0; kx < kw; kx++) acc = F32X4_MADD(taps_s2(r + kx * dw), wasm_f32x4_splat(wk[kx]), acc);
      }
      store_cols(out + ox, clamp_f32x4(acc, vlo, vhi), cols);
    }
  }
  return OW;
}

/* Y[c] = clamp(conv(X[c], Wt[c]) + bias[c], lo, hi) for C planes of H x W; Wt is [C, kh * kw] (scales folded in),
 * bias may be 0. `scratch` holds PH * PW + 8 floats, PH = (OH-1)*sh + (kh-1)*dh + 1, PW likewise (the 8 let the
 * stride-2 loads read past a plane's last column). */
EXPORT(f32_dwconv2d)
void f32_dwconv2d(const float* X, int C, int H, int W, const float* Wt, int kh, int kw, int sh, int sw, int pt, int pl,
                  int dh, int dw, int OH, int OW, const float* bias, float lo, float hi, float* scratch, float* Y) {
  const int PH = (OH - 1) * sh + (kh - 1) * dh + 1;
  const int PW = (OW - 1) * sw + (kw - 1) * dw + 1;
  const int square = kh == kw && sh == sw && dh == 1 && dw == 1;
  for (int c = 0; c < C; c++) {
    const float* w = Wt + (long)c * kh * kw;
    const float b = bias ? bias[c] : 0.f;
    float* y = Y + (long)c * OH * OW;
    pad_plane(X + (long)c * H * W, H, W, pt, pl, PH, PW, scratch);
    for (int i = 0; i < 8; i++) scratch[(long)PH * PW + i] = 0.f;
    int done = 0;
    if (square && kh == 3 && sh == 1) done = dw3_s1(scratch, PW, w, OH, OW, b, lo, hi, y);
    else if (square && kh == 3 && sh == 2) done = dw3_s2(scratch, PW, w, OH, OW, b, lo, hi, y);
    else if (square && kh == 5 && sh == 1) done = dw5_s1(scratch, PW, w, OH, OW, b, lo, hi, y);
    else if (square && kh == 5 && sh == 2) done = dw5_s2(scratch, PW, w, OH, OW, b, lo, hi, y);
    else if (sw == 1 || sw == 2) done = dw_any(scratch, PW, w, kh, kw, sh, sw, dh, dw, OH, OW, b, lo, hi, y);
    dw_scalar(scratch, PW, w, kh, kw, sh, sw, dh, dw, OH, OW, done, b, lo, hi, y);
  }
}

/* ConvTranspose's col2im as a gather with the epilogue fused: for M channels,
 * Y[m, oy, ox] = clamp((sum over taps of col[iy * IW + ix, (m * kh + ky) * kw + kx]) * scale[m] + bias[m], lo, hi)
 * over the taps with oy = iy * sh - pt + ky * dh and ox = ix * sw - pl + kx * dw inside the input; col rows are
 * ldc floats apart. scale and bias may be 0. */
EXPORT(f32_col2im)
void f32_col2im(const float* col, int ldc, int M, int IH, int IW, int kh, int kw, int sh, int sw, int pt, int pl,
                int dh, int dw, int OH, int OW, const float* scale, const float* bias, float lo, float hi, float* Y) {
  for (int m = 0; m < M; m++) {
    const float s = scale ? scale[m] : 1.f;
    const float b = bias ? bias[m] : 0.f;
    float* y = Y + (long)m * OH * OW;
    for (int oy = 0; oy < OH; oy++) {
      for (int ox = 0; ox < OW; ox++) {
        float acc = 0.f;
        for (int ky = 0; ky < kh; ky++) {
          const int ty = oy + pt - ky * dh;
          if (ty < 0 || ty % sh) continue;
          const int iy = ty / sh;
          if (iy >= IH) continue;
          for (int kx = 0; kx < kw; kx++) {
            const int tx = ox + pl - kx * dw;
            if (tx < 0 || tx % sw) continue;
            const int ix = tx / sw;
            if (ix >= IW) continue;
            acc += col[(long)(iy * IW + ix) * ldc + (m * kh + ky) * kw + kx];
          }
        }
        y[(long)oy * OW + ox] = clamp_f32(acc * s + b, lo, hi);
      }
    }
  }
}
