/* Sparse fp32 weights times dense activations: C[M,N] = clamp(A[M,K] x W[K,N] + bias, lo, hi).
 *  - 1x16 block-sparse: W's nonzero blocks are 16 consecutive output columns of one input row k. Panel p covers
 *    columns 16p..16p+15: its blocks are ptr[p]..ptr[p+1]-1, block i at row kidx[i] with values vals[16 i ..].
 *    bias holds round_up(N, 16) floats or is 0.
 *  - CSR over output columns: column n's nonzeros are ptr[n]..ptr[n+1]-1 at rows kidx[i] with values vals[i]. */
#include "common.h"

static inline void store16(float* c, int cols, v128_t r0, v128_t r1, v128_t r2, v128_t r3) {
  if (cols == 16) {
    wasm_v128_store(c, r0); wasm_v128_store(c + 4, r1); wasm_v128_store(c + 8, r2); wasm_v128_store(c + 12, r3);
    return;
  }
  v128_t r[4] = {r0, r1, r2, r3};
  for (int i = 0; i < 4 && cols > 0; i++, cols -= 4) {
    if (cols >= 4) wasm_v128_store(c + 4 * i, r[i]);
    else store_partial_f32x4(c + 4 * i, r[i], cols);
  }
}

EXPORT(f32_bsr1x16_gemm_wasmsimd_2x16)
void f32_bsr1x16_gemm_wasmsimd_2x16(int M, int N, const float* A, int lda, const int32_t* ptr, const int32_t* kidx,
                                    const float* vals, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  const int panels = (N + 15) / 16;
  for (int p = 0; p < panels; p++) {
    const int n0 = p * 16, cols = N - n0 < 16 ? N - n0 : 16;
    v128_t b0 = wasm_f32x4_splat(0.f), b1 = b0, b2 = b0, b3 = b0;
    if (bias) {
      b0 = wasm_v128_load(bias + n0); b1 = wasm_v128_load(bias + n0 + 4);
      b2 = wasm_v128_load(bias + n0 + 8); b3 = wasm_v128_load(bias + n0 + 12);
    }
    const int start = ptr[p], end = ptr[p + 1];
    int m = 0;
    for (; m + 2 <= M; m += 2) {
      const float* a0 = A + (long)m * lda;
      const float* a1 = a0 + lda;
      v128_t c0 = b0, c1 = b1, c2 = b2, c3 = b3, d0 = b0, d1 = b1, d2 = b2, d3 = b3;
      for (int i = start; i < end; i++) {
        const float* v = vals + (long)i * 16;
        const int k = kidx[i];
        const v128_t w0 = wasm_v128_load(v), w1 = wasm_v128_load(v + 4), w2 = wasm_v128_load(v + 8), w3 = wasm_v128_load(v + 12);
        v128_t x = wasm_f32x4_splat(a0[k]);
        c0 = F32X4_MADD(x, w0, c0); c1 = F32X4_MADD(x, w1, c1); c2 = F32X4_MADD(x, w2, c2); c3 = F32X4_MADD(x, w3, c3);
        x = wasm_f32x4_splat(a1[k]);
        d0 = F32X4_MADD(x, w0, d0); d1 = F32X4_MADD(x, w1, d1); d2 = F32X4_MADD(x, w2, d2); d3 = F32X4_MADD(x, w3, d3);
      }
      store16(C + (long)m * ldc + n0, cols, clamp_f32x4(c0, vlo, vhi), clamp_f32x4(c1, vlo, vhi),
              clamp_f32x4(c2, vlo, vhi), clamp_f32x4(c3, vlo, vhi));
      store16(C + (long)(m + 1) * ldc + n0, cols, clamp_f32x4(d0, vlo, vhi), clamp_f32x4(d1, vlo, vhi),
              clamp_f32x4(d2, vlo, vhi), clamp_f32x4(d3, vlo, vhi));
    }
    if (m < M) {
      const float* a0 = A + (long)m * lda;
      v128_t c0 = b0, c1 = b1, c2 = b2, c3 = b3;
      for (int i = start; i < end; i++) {
        const float* v = vals + (long)i * 16;
        v128_t x = wasm_f32x4_splat(a0[kidx[i]]);
        c0 = F32X4_MADD(x, wasm_v128_load(v), c0); c1 = F32X4_MADD(x, wasm_v128_load(v + 4), c1);
        c2 = F32X4_MADD(x, wasm_v128_load(v + 8), c2); c3 = F32X4_MADD(x, wasm_v128_load(v + 12), c3);
      }
      store16(C + (long)m * ldc + n0, cols, clamp_f32x4(c0, vlo, vhi), clamp_f32x4(c1, vlo, vhi),
              clamp_f32x4(c2, vlo, vhi), clamp_f32x4(c3, vlo, vhi));
    }
  }
}

/* bias holds N floats or is 0. */
EXPORT(f32_csr_gemm_scalar_1x4)
void f32_csr_gemm_scalar_1x4(int M, int N, const float* A, int lda, const int32_t* ptr, const int32_t* kidx,
                             const float* vals, const float* bias, float* C, int ldc, float lo, float hi) {
  int m = 0;
  for (; m + 4 <= M; m += 4) {
    const float* a0 = A + (long)m * lda;
    for (int n = 0; n < N; n++) {
      float b = bias ? bias[n] : 0.f;
      float s0 = b, s1 = b, s2 = b, s3 = b;
      for (int i = ptr[n]; i < ptr[n + 1]; i++) {
        const int k = kidx[i];
        const float v = vals[i];
        s0 += a0[k] * v; s1 += a0[lda + k] * v; s2 += a0[2 * lda + k] * v; s3 += a0[3 * lda + k] * v;
      }
      float* c = C + (long)m * ldc + n;
      c[0] = clamp_f32(s0, lo, hi); c[ldc] = clamp_f32(s1, lo, hi);
      c[2 * ldc] = clamp_f32(s2, lo, hi); c[3 * ldc] = clamp_f32(s3, lo, hi);
    }
  }
  for (; m < M; m++) {
    const float* a0 = A + (long)m * lda;
    for (int n = 0; n < N; n++) {
      float s = bias ? bias[n] : 0.f;
      for (int i = ptr[n]; i < ptr[n + 1]; i++) s += a0[kidx[i]] * vals[i];
      C[(long)m * ldc + n] = clamp_f32(s, lo, hi);
    }
  }
}
