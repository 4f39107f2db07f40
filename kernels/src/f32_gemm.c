/* fp32 GEMM: C[M,N] = clamp(A[M,K] x B[K,N] + bias, lo, hi), register tile 4 rows x 8 columns.
 * B is packed in panels of 8 columns (panel p holds B[k, 8p..8p+7] for k = 0..K-1, zero past N);
 * bias holds round_up(N, 8) floats, or is 0 for none. */
#include "common.h"

EXPORT(f32_gemm_wasmsimd_4x8)
void f32_gemm_wasmsimd_4x8(int M, int K, int N, const float* A, int lda, const float* Bp, const float* bias,
                           float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int panels = (N + 7) / 8;
  for (int p = 0; p < panels; p++) {
    const float* B = Bp + (long)p * K * 8;
    const int n0 = p * 8;
    const int cols = N - n0 < 8 ? N - n0 : 8;
    v128_t b0 = wasm_f32x4_splat(0.f), b1 = b0;
    if (bias) { b0 = wasm_v128_load(bias + n0); b1 = wasm_v128_load(bias + n0 + 4); }
    int m = 0;
    for (; m + 4 <= M; m += 4) {
      const float* a0 = A + (long)m * lda;
      const float* a1 = a0 + lda;
      const float* a2 = a1 + lda;
      const float* a3 = a2 + lda;
      v128_t c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
      for (int k = 0; k < K; k++) {
        const v128_t w0 = wasm_v128_load(B + k * 8), w1 = wasm_v128_load(B + k * 8 + 4);
        v128_t x = wasm_f32x4_splat(a0[k]);
        c00 = F32X4_MADD(x, w0, c00); c01 = F32X4_MADD(x, w1, c01);
        x = wasm_f32x4_splat(a1[k]);
        c10 = F32X4_MADD(x, w0, c10); c11 = F32X4_MADD(x, w1, c11);
        x = wasm_f32x4_splat(a2[k]);
        c20 = F32X4_MADD(x, w0, c20); c21 = F32X4_MADD(x, w1, c21);
        x = wasm_f32x4_splat(a3[k]);
        c30 = F32X4_MADD(x, w0, c30); c31 = F32X4_MADD(x, w1, c31);
      }
      v128_t r[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
      for (int i = 0; i < 4; i++) {
        float* c = C + (long)(m + i) * ldc + n0;
        v128_t x0 = clamp_f32x4(r[2 * i], vlo, vhi), x1 = clamp_f32x4(r[2 * i + 1], vlo, vhi);
        if (cols == 8) { wasm_v128_store(c, x0); wasm_v128_store(c + 4, x1); }
        else if (cols >= 4) { wasm_v128_store(c, x0); store_partial_f32x4(c + 4, x1, cols - 4); }
        else store_partial_f32x4(c, x0, cols);
      }
    }
    for (; m < M; m++) {
      const float* a0 = A + (long)m * lda;
      v128_t c00 = b0, c01 = b1, d00 = wasm_f32x4_splat(0.f), d01 = d00;
      int k = 0;
      /* Two independent chains hide the add latency when only one row is left. */
      for (; k + 2 <= K; k += 2) {
        v128_t x = wasm_f32x4_splat(a0[k]);
        c00 = F32X4_MADD(x, wasm_v128_load(B + k * 8), c00);
        c01 = F32X4_MADD(x, wasm_v128_load(B + k * 8 + 4), c01);
        x = wasm_f32x4_splat(a0[k + 1]);
        d00 = F32X4_MADD(x, wasm_v128_load(B + k * 8 + 8), d00);
        d01 = F32X4_MADD(x, wasm_v128_load(B + k * 8 + 12), d01);
      }
      if (k < K) {
        v128_t x = wasm_f32x4_splat(a0[k]);
        c00 = F32X4_MADD(x, wasm_v128_load(B + k * 8), c00);
        c01 = F32X4_MADD(x, wasm_v128_load(B + k * 8 + 4), c01);
      }
      float* c = C + (long)m * ldc + n0;
      v128_t x0 = clamp_f32x4(wasm_f32x4_add(c00, d00), vlo, vhi), x1 = clamp_f32x4(wasm_f32x4_add(c01, d01), vlo, vhi);
      if (cols == 8) { wasm_v128_store(c, x0); wasm_v128_store(c + 4, x1); }
      else if (cols >= 4) { wasm_v128_store(c, x0); store_partial_f32x4(c + 4, x1, cols - 4); }
      else store_partial_f32x4(c, x0, cols);
    }
  }
}
