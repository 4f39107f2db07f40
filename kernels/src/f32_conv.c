/* Convolution support around the GEMMs: im2col (one image, a slice of channels), its transpose written directly as
 * planes of patch entries (for the quantized pointwise kernels, which read NCHW), and a blocked transpose that turns
 * the GEMM's [pixels, channels] result into NCHW. */
#include "common.h"

/* out[(oy*OW + ox), (c*kh + ky)*kw + kx] = X[c, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw] (0 outside).
 * Four patch columns k..k+3 at a time: at column strides 1 and 2 the four source rows give four pixels each by one
 * (or two, de-interleaved) vector loads, and a 4x4 register transpose writes the pixels' four entries; pixels whose
 * loads would leave a source row, other strides and the last K % 4 columns are copied one by one. The element-wise
 * copy was most of a 3x3 layer's time on small channel counts (more than its GEMM). */
static inline const float* patch_row(const float* X, int H, int W, int kh, int kw, int k, int oy, int sh, int ph, int dh) {
  const int c = k / (kh * kw), ky = (k % (kh * kw)) / kw;
  const int y = oy * sh - ph + ky * dh;
  return (y < 0 || y >= H) ? 0 : X + ((long)c * H + y) * W;
}

static inline float patch_at(const float* row, int W, int x) { return (row && x >= 0 && x < W) ? row[x] : 0.f; }

/* Floor division for a possibly negative numerator and a positive divisor. */
static inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

EXPORT(f32_im2col)
void f32_im2col(const float* X, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                int OH, int OW, float* out) {
  const int K = C * kh * kw;
  const int vector = sw == 1 || sw == 2;
  const int span = sw == 1 ? 4 : 8; /* floats one vector load of four pixels reads */
  for (int oy = 0; oy < OH; oy++) {
    float* base = out + (long)oy * OW * K;
    int k = 0;
    for (; vector && k + 4 <= K; k += 4) {
      const float* src[4];
      int off[4];
      /* Groups of four pixels starting in [lo, top] load all four rows inside them; padding rows are zero. */
      int lo = 0, top = OW - 4;
      for (int i = 0; i < 4; i++) {
        src[i] = patch_row(X, H, W, kh, kw, k + i, oy, sh, ph, dh);
        off[i] = ((k + i) % kw) * dw - pw;
        if (!src[i]) continue;
        const int first = off[i] >= 0 ? 0 : (-off[i] + sw - 1) / sw;
        const int last = floor_div(W - span - off[i], sw);
        lo = first > lo ? first : lo;
        top = last < top ? last : top;
      }
      for (int ox = 0; ox < OW;) {
        float* dst = base + (long)ox * K + k;
        if (ox < lo || ox > top) {
          for (int i = 0; i < 4; i++) dst[i] = patch_at(src[i], W, ox * sw + off[i]);
          ox++;
          continue;
        }
        v128_t v[4];
        for (int i = 0; i < 4; i++) {
          if (!src[i]) {
            v[i] = wasm_f32x4_splat(0.f);
          } else if (sw == 1) {
            v[i] = wasm_v128_load(src[i] + ox + off[i]);
          } else {
            const float* s = src[i] + 2 * ox + off[i];
            v[i] = wasm_i32x4_shuffle(wasm_v128_load(s), wasm_v128_load(s + 4), 0, 2, 4, 6);
          }
        }
        const v128_t ab0 = wasm_i32x4_shuffle(v[0], v[1], 0, 4, 1, 5), ab1 = wasm_i32x4_shuffle(v[0], v[1], 2, 6, 3, 7);
        const v128_t cd0 = wasm_i32x4_shuffle(v[2], v[3], 0, 4, 1, 5), cd1 = wasm_i32x4_shuffle(v[2], v[3], 2, 6, 3, 7);
        wasm_v128_store(dst, wasm_i32x4_shuffle(ab0, cd0, 0, 1, 4, 5));
        wasm_v128_store(dst + K, wasm_i32x4_shuffle(ab0, cd0, 2, 3, 6, 7));
        wasm_v128_store(dst + 2 * (long)K, wasm_i32x4_shuffle(ab1, cd1, 0, 1, 4, 5));
        wasm_v128_store(dst + 3 * (long)K, wasm_i32x4_shuffle(ab1, cd1, 2, 3, 6, 7));
        ox += 4;
      }
    }
    for (; k < K; k++) {
      const float* row = patch_row(X, H, W, kh, kw, k, oy, sh, ph, dh);
      const int o = (k % kw) * dw - pw;
      for (int ox = 0; ox < OW; ox++) base[(long)ox * K + k] = patch_at(row, W, ox * sw + o);
    }
  }
}

/* out[(c*kh + ky)*kw + kx, oy*OW + ox] = X[c, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw] (0 outside): im2col
 * transposed, one plane of OH x OW per patch entry. Each output row is a run of one source row (every sw-th element),
 * so the interior is copied by vector loads (de-interleaved at stride 2) with no transposes, which is what makes it
 * cheaper than im2col on small planes. */
EXPORT(f32_im2planes)
void f32_im2planes(const float* X, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                   int OH, int OW, float* out) {
  const int K = C * kh * kw;
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (int k = 0; k < K; k++) {
    const int off = (k % kw) * dw - pw;
    /* Output columns [first, last) read inside the source row. */
    int first = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int last = floor_div(W - 1 - off, sw) + 1;
    first = first > OW ? OW : first;
    last = last > OW ? OW : last < first ? first : last;
    for (int oy = 0; oy < OH; oy++) {
      const float* row = patch_row(X, H, W, kh, kw, k, oy, sh, ph, dh);
      float* dst = out + ((long)k * OH + oy) * OW;
      if (!row) {
        int ox = 0;
        for (; ox + 4 <= OW; ox += 4) wasm_v128_store(dst + ox, zero);
        for (; ox < OW; ox++) dst[ox] = 0.f;
        continue;
      }
      int ox = 0;
      for (; ox < first; ox++) dst[ox] = 0.f;
      const float* src = row + off;
      if (sw == 1) {
        for (; ox + 4 <= last; ox += 4) wasm_v128_store(dst + ox, wasm_v128_load(src + ox));
      } else if (sw == 2) {
        /* The second load reads src[2*ox + 4 .. 2*ox + 7]: inside the row while 2*ox + 7 + off < W. */
        for (; ox + 4 <= last && 2 * ox + 7 + off < W; ox += 4)
          wasm_v128_store(dst + ox, wasm_i32x4_shuffle(wasm_v128_load(src + 2 * ox), wasm_v128_load(src + 2 * ox + 4), 0, 2, 4, 6));
      }
      for (; ox < last; ox++) dst[ox] = src[ox * sw];
      for (; ox < OW; ox++) dst[ox] = 0.f;
    }
  }
}

/* 2-D max pooling over `planes` planes of H x W (NCHW): window kh x kw, strides, begin pads, dilations; positions
 * outside the input are skipped. The interior (no clipping) takes a branch-free path. */
static void maxpool_2x2_s2(const float* X, int planes, int H, int W, int OH, int OW, float* Y) {
  for (int p = 0; p < planes; p++) {
    const float* x = X + (long)p * H * W;
    float* y = Y + (long)p * OH * OW;
    for (int oy = 0; oy < OH; oy++) {
      const float* r0 = x + (long)(2 * oy) * W;
      const float* r1 = r0 + W;
      float* out = y + (long)oy * OW;
      int ox = 0;
      /* 8 inputs of two rows -> 4 outputs: vertical max, then max of even and odd lanes. */
      for (; ox + 4 <= OW && 2 * ox + 8 <= W; ox += 4) {
        const v128_t a = wasm_f32x4_pmax(wasm_v128_load(r0 + 2 * ox), wasm_v128_load(r1 + 2 * ox));
        const v128_t b = wasm_f32x4_pmax(wasm_v128_load(r0 + 2 * ox + 4), wasm_v128_load(r1 + 2 * ox + 4));
        wasm_v128_store(out + ox, wasm_f32x4_pmax(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), wasm_i32x4_shuffle(a, b, 1, 3, 5, 7)));
      }
      for (; ox < OW; ox++) {
        float m = r0[2 * ox];
        m = r0[2 * ox + 1] > m ? r0[2 * ox + 1] : m;
        m = r1[2 * ox] > m ? r1[2 * ox] : m;
        m = r1[2 * ox + 1] > m ? r1[2 * ox + 1] : m;
        out[ox] = m;
      }
    }
  }
}

#define POOL_ROW 4096

/* Any window, for rows of at most POOL_ROW: per output row, the max over the window's input rows (SIMD over 4
 * columns, rows outside skipped), then per output column the max over the window's columns of that row (outside
 * skipped; four outputs at a time at strides 1 and 2). Like the scalar path, a NaN never replaces a value (max(m, v)
 * is m unless m < v: pmax). */
static void maxpool_rows(const float* X, int planes, int H, int W, int kh, int kw, int sh, int sw, int pt, int pl, int dh,
                         int dw, int OH, int OW, float* Y) {
  float v[POOL_ROW + 8]; /* the stride-2 loads read one past a row's last column */
  const v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  for (int p = 0; p < planes; p++) {
    const float* x = X + (long)p * H * W;
    float* y = Y + (long)p * OH * OW;
    for (int oy = 0; oy < OH; oy++) {
      const int y0 = oy * sh - pt;
      int c = 0;
      for (; c + 4 <= W; c += 4) {
        v128_t m = ninf;
        for (int ky = 0; ky < kh; ky++) {
          const int iy = y0 + ky * dh;
          if (iy >= 0 && iy < H) m = wasm_f32x4_pmax(m, wasm_v128_load(x + (long)iy * W + c));
        }
        wasm_v128_store(v + c, m);
      }
      for (; c < W; c++) {
        float m = -__builtin_inff();
        for (int ky = 0; ky < kh; ky++) {
          const int iy = y0 + ky * dh;
          if (iy >= 0 && iy < H && m < x[(long)iy * W + c]) m = x[(long)iy * W + c];
        }
        v[c] = m;
      }
      float* out = y + (long)oy * OW;
      for (int ox = 0; ox < OW; ox++) {
        const int x0 = ox * sw - pl;
        /* Four outputs at once where their windows lie inside the row, at strides 1 and 2 without dilation: each
         * window column a load (at stride 2 the even lanes of two), maxima taken in the same order as below. */
        if (dw == 1 && ox + 4 <= OW && x0 >= 0 && (sw == 1 || sw == 2) && x0 + 3 * sw + kw - 1 < W) {
          v128_t m4 = ninf;
          for (int kx = 0; kx < kw; kx++) {
            const v128_t a = wasm_v128_load(v + x0 + kx);
            m4 = wasm_f32x4_pmax(m4, sw == 1 ? a : wasm_i32x4_shuffle(a, wasm_v128_load(v + x0 + kx + 4), 0, 2, 4, 6));
          }
          wasm_v128_store(out + ox, m4);
          ox += 3;
          continue;
        }
        float m = -__builtin_inff();
        if (x0 >= 0 && x0 + (kw - 1) * dw < W) {
          for (int kx = 0; kx < kw; kx++) m = m < v[x0 + kx * dw] ? v[x0 + kx * dw] : m;
        } else {
          for (int kx = 0; kx < kw; kx++) {
            const int ix = x0 + kx * dw;
            if (ix >= 0 && ix < W && m < v[ix]) m = v[ix];
          }
        }
        out[ox] = m;
      }
    }
  }
}

EXPORT(f32_maxpool2d)
void f32_maxpool2d(const float* X, int planes, int H, int W, int kh, int kw, int sh, int sw, int pt, int pl, int dh,
                   int dw, int OH, int OW, float* Y) {
  /* The common CNN case, windows entirely inside the input. */
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && pt == 0 && pl == 0 && 2 * OH <= H && 2 * OW <= W) {
    maxpool_2x2_s2(X, planes, H, W, OH, OW, Y);
    return;
  }
  if (W <= POOL_ROW) {
    maxpool_rows(X, planes, H, W, kh, kw, sh, sw, pt, pl, dh, dw, OH, OW, Y);
    return;
  }
  for (int p = 0; p < planes; p++) {
    const float* x = X + (long)p * H * W;
    float* y = Y + (long)p * OH * OW;
    for (int oy = 0; oy < OH; oy++) {
      const int y0 = oy * sh - pt;
      const int rowInside = y0 >= 0 && y0 + (kh - 1) * dh < H;
      for (int ox = 0; ox < OW; ox++) {
        const int x0 = ox * sw - pl;
        float m = -__builtin_inff();
        if (rowInside && x0 >= 0 && x0 + (kw - 1) * dw < W) {
          for (int ky = 0; ky < kh; ky++) {
            const float* r = x + (long)(y0 + ky * dh) * W + x0;
            for (int kx = 0; kx < kw; kx++) m = r[kx * dw] > m ? r[kx * dw] : m;
          }
        } else {
          for (int ky = 0; ky < kh; ky++) {
            const int iy = y0 + ky * dh;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < kw; kx++) {
              const int ix = x0 + kx * dw;
              if (ix >= 0 && ix < W && x[(long)iy * W + ix] > m) m = x[(long)iy * W + ix];
            }
          }
        }
        y[oy * OW + ox] = m;
      }
    }
  }
}

/* dst[c * ld_dst + r] = src[r * cols + c]; 4x4 blocks through SIMD shuffles, scalar edges. */
EXPORT(f32_transpose)
void f32_transpose(int rows, int cols, const float* src, float* dst, int ld_dst) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t a = wasm_v128_load(src + (long)r * cols + c), b = wasm_v128_load(src + (long)(r + 1) * cols + c);
      v128_t e = wasm_v128_load(src + (long)(r + 2) * cols + c), d = wasm_v128_load(src + (long)(r + 3) * cols + c);
      v128_t ab0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), ab1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
      v128_t ed0 = wasm_i32x4_shuffle(e, d, 0, 4, 1, 5), ed1 = wasm_i32x4_shuffle(e, d, 2, 6, 3, 7);
      wasm_v128_store(dst + (long)c * ld_dst + r, wasm_i32x4_shuffle(ab0, ed0, 0, 1, 4, 5));
      wasm_v128_store(dst + (long)(c + 1) * ld_dst + r, wasm_i32x4_shuffle(ab0, ed0, 2, 3, 6, 7));
      wasm_v128_store(dst + (long)(c + 2) * ld_dst + r, wasm_i32x4_shuffle(ab1, ed1, 0, 1, 4, 5));
      wasm_v128_store(dst + (long)(c + 3) * ld_dst + r, wasm_i32x4_shuffle(ab1, ed1, 2, 3, 6, 7));
    }
    for (; c < cols; c++)
      for (int i = 0; i < 4; i++) dst[(long)c * ld_dst + r + i] = src[(long)(r + i) * cols + c];
  }
  for (; r < rows; r++)
    for (int c = 0; c < cols; c++) dst[(long)c * ld_dst + r] = src[(long)r * cols + c];
}

/* X's C planes of H x W copied into out's C planes of Hp x Wp at row pt and column pl, zeros around (what falls outside
 * out is dropped): the zero-padded input a stride-1 patch reader indexes without bounds checks. */
EXPORT(f32_pad_planes)
void f32_pad_planes(const float* X, int C, int H, int W, int pt, int pl, int Hp, int Wp, float* out) {
  const v128_t zero = wasm_f32x4_splat(0.f);
  const int y0 = pt < 0 ? -pt : 0, y1 = H < Hp - pt ? H : Hp - pt;
  const int x0 = pl < 0 ? -pl : 0, x1 = W < Wp - pl ? W : Wp - pl;
  for (int c = 0; c < C; c++) {
    float* o = out + (long)c * Hp * Wp;
    long i = 0;
    for (; i + 4 <= (long)Hp * Wp; i += 4) wasm_v128_store(o + i, zero);
    for (; i < (long)Hp * Wp; i++) o[i] = 0.f;
    for (int y = y0; y < y1; y++) {
      const float* src = X + ((long)c * H + y) * W;
      float* dst = o + (long)(y + pt) * Wp + pl;
      int x = x0;
      for (; x + 4 <= x1; x += 4) wasm_v128_store(dst + x, wasm_v128_load(src + x));
      for (; x < x1; x++) dst[x] = src[x];
    }
  }
}
