/* Codebook GEMM: C[M,N] = clamp((A[M,K] x W) * scale + bias, lo, hi), where W[k,n] = table[idx[k,n]] with a
 * 16-entry float table shared by the layer (k-means weight sharing) and 4-bit indices: the weights stay at half a
 * byte each in kernel memory and are decoded to floats in registers, by table lookups (i8x16.swizzle on the
 * table's four byte planes) rather than loads of float weights.
 * Layout: panels of 8 columns; panel p, k-quad q (k = 4q..4q+3) is 16 bytes at (p * Kq + q) * 16, Kq = ceil(K/4):
 * 8 bytes for columns 8p..8p+3, then 8 for 8p+4..8p+7. In each 8, byte j holds element j in its low nibble and
 * element j + 8 in its high nibble, element e = 4t + c being (k = 4q + t, column c of the four). Padding indices
 * (k >= K, n >= N) are 0: a k past K meets a zero activation, a column past N is never stored.
 * scale and bias hold round_up(N, 8) floats, or are 0 for none. */
#include "common.h"

/* The 16 floats of `table` as four byte planes: plane p, byte j = byte p of table[j] (little-endian). */
static inline void byte_planes(const float* table, v128_t planes[4]) {
  const uint8_t* bytes = (const uint8_t*)table;
  uint8_t buf[4][16];
  for (int j = 0; j < 16; j++)
    for (int p = 0; p < 4; p++) buf[p][j] = bytes[4 * j + p];
  for (int p = 0; p < 4; p++) planes[p] = wasm_v128_load(buf[p]);
}

/* 16 weights (4 k x 4 columns) from 8 packed bytes: w[t] holds W[4q + t, c] in lane c. */
static inline void decode16(const uint8_t* packed, const v128_t planes[4], v128_t w[4]) {
  const v128_t v = wasm_v128_load64_zero(packed);
  const v128_t idx = wasm_i8x16_shuffle(wasm_v128_and(v, wasm_i8x16_splat(0x0f)), wasm_u8x16_shr(v, 4),
                                        0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const v128_t b0 = wasm_i8x16_swizzle(planes[0], idx), b1 = wasm_i8x16_swizzle(planes[1], idx);
  const v128_t b2 = wasm_i8x16_swizzle(planes[2], idx), b3 = wasm_i8x16_swizzle(planes[3], idx);
  /* Bytes 0-1 then 2-3 of each float side by side, then the two halves interleaved into whole floats. */
  const v128_t p01 = wasm_i8x16_shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t q01 = wasm_i8x16_shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t p23 = wasm_i8x16_shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t q23 = wasm_i8x16_shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  w[0] = wasm_i8x16_shuffle(p01, p23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  w[1] = wasm_i8x16_shuffle(p01, p23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  w[2] = wasm_i8x16_shuffle(q01, q23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  w[3] = wasm_i8x16_shuffle(q01, q23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/* Row r's activations for k-quad starting at k, zero past K. */
static inline void splats(const float* a, int k, int K, v128_t x[4]) {
  for (int t = 0; t < 4; t++) x[t] = wasm_f32x4_splat(k + t < K ? a[k + t] : 0.f);
}

static inline void store_row(float* c, v128_t y0, v128_t y1, int cols) {
  if (cols == 8) { wasm_v128_store(c, y0); wasm_v128_store(c + 4, y1); }
  else if (cols >= 4) { wasm_v128_store(c, y0); store_partial_f32x4(c + 4, y1, cols - 4); }
  else store_partial_f32x4(c, y0, cols);
}

EXPORT(lut4_gemm_wasmsimd_4x8)
void lut4_gemm_wasmsimd_4x8(int M, int K, int N, const float* A, int lda, const uint8_t* Wp, const float* table,
                            const float* scale, const float* bias, float* C, int ldc, float lo, float hi) {
  v128_t planes[4];
  byte_planes(table, planes);
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int Kq = (K + 3) / 4, full = K / 4, panels = (N + 7) / 8;
  for (int p = 0; p < panels; p++) {
    const uint8_t* W = Wp + (long)p * Kq * 16;
    const int n0 = p * 8;
    const int cols = N - n0 < 8 ? N - n0 : 8;
    v128_t s0 = wasm_f32x4_splat(1.f), s1 = s0, b0 = wasm_f32x4_splat(0.f), b1 = b0;
    if (scale) { s0 = wasm_v128_load(scale + n0); s1 = wasm_v128_load(scale + n0 + 4); }
    if (bias) { b0 = wasm_v128_load(bias + n0); b1 = wasm_v128_load(bias + n0 + 4); }
    int m = 0;
    for (; m + 4 <= M; m += 4) {
      const float* a[4] = {A + (long)m * lda, A + (long)(m + 1) * lda, A + (long)(m + 2) * lda, A + (long)(m + 3) * lda};
      v128_t acc[4][2];
      for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.f);
      for (int q = 0; q < Kq; q++) {
        v128_t wa[4], wb[4];
        decode16(W + q * 16, planes, wa);
        decode16(W + q * 16 + 8, planes, wb);
        const int k = 4 * q;
        for (int r = 0; r < 4; r++) {
          v128_t x[4];
          if (q < full) for (int t = 0; t < 4; t++) x[t] = wasm_v128_load32_splat(a[r] + k + t);
          else splats(a[r], k, K, x);
          for (int t = 0; t < 4; t++) {
            acc[r][0] = F32X4_MADD(x[t], wa[t], acc[r][0]);
            acc[r][1] = F32X4_MADD(x[t], wb[t], acc[r][1]);
          }
        }
      }
      for (int r = 0; r < 4; r++) {
        const v128_t y0 = clamp_f32x4(F32X4_MADD(acc[r][0], s0, b0), vlo, vhi);
        const v128_t y1 = clamp_f32x4(F32X4_MADD(acc[r][1], s1, b1), vlo, vhi);
        store_row(C + (long)(m + r) * ldc + n0, y0, y1, cols);
      }
    }
    for (; m < M; m++) {
      const float* a = A + (long)m * lda;
      /* Even and odd k in separate chains: one row alone would wait on each add. */
      v128_t e0 = wasm_f32x4_splat(0.f), e1 = e0, o0 = e0, o1 = e0;
      for (int q = 0; q < Kq; q++) {
        v128_t wa[4], wb[4], x[4];
        decode16(W + q * 16, planes, wa);
        decode16(W + q * 16 + 8, planes, wb);
        if (q < full) for (int t = 0; t < 4; t++) x[t] = wasm_v128_load32_splat(a + 4 * q + t);
        else splats(a, 4 * q, K, x);
        e0 = F32X4_MADD(x[0], wa[0], e0); e1 = F32X4_MADD(x[0], wb[0], e1);
        o0 = F32X4_MADD(x[1], wa[1], o0); o1 = F32X4_MADD(x[1], wb[1], o1);
        e0 = F32X4_MADD(x[2], wa[2], e0); e1 = F32X4_MADD(x[2], wb[2], e1);
        o0 = F32X4_MADD(x[3], wa[3], o0); o1 = F32X4_MADD(x[3], wb[3], o1);
      }
      const v128_t y0 = clamp_f32x4(F32X4_MADD(wasm_f32x4_add(e0, o0), s0, b0), vlo, vhi);
      const v128_t y1 = clamp_f32x4(F32X4_MADD(wasm_f32x4_add(e1, o1), s1, b1), vlo, vhi);
      store_row(C + (long)m * ldc + n0, y0, y1, cols);
    }
  }
}
