/* Product-quantized GEMM ("And the bit goes down", Stock et al. 2019): C[M,N] = clamp((A[M,K] x W) * scale + bias,
 * lo, hi), where column n of W is B = K/d sub-vectors of d consecutive inputs, each one of the kp entries of a shared
 * codebook: W[b*d + j, n] = book[idx[n*B + b]][j]. The weights stay at one byte per d of them in kernel memory and are
 * never made floats: per row of A, a table holds the row's dot product with every codebook entry in every sub-space,
 * lut[b][c] = sum_j A[b*d + j] * book[c][j], and each output is a sum of B lookups, lut[b][idx[n*B + b]].
 * Layout: bookT is the codebook transposed, d rows of kp floats (bookT[j*kp + c] = book[c][j]; kp a multiple of 4,
 * entries past the codebook zero); idx is N rows of B bytes, each below kp. lut is scratch for B * kp floats.
 * scale and bias hold N floats, or are 0 for none. */
#include "common.h"

/* lut[c] = sum_j x[j] * bookT[j*kp + c] for c in [0, kp): the row's sub-vector x against every codebook entry. */
static inline void lookup_table(const float* x, int d, int kp, const float* bookT, float* lut) {
  int c = 0;
  for (; c + 16 <= kp; c += 16) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < d; j++) {
      const v128_t xj = wasm_f32x4_splat(x[j]);
      const float* row = bookT + (long)j * kp + c;
      a0 = F32X4_MADD(xj, wasm_v128_load(row), a0);
      a1 = F32X4_MADD(xj, wasm_v128_load(row + 4), a1);
      a2 = F32X4_MADD(xj, wasm_v128_load(row + 8), a2);
      a3 = F32X4_MADD(xj, wasm_v128_load(row + 12), a3);
    }
    wasm_v128_store(lut + c, a0);
    wasm_v128_store(lut + c + 4, a1);
    wasm_v128_store(lut + c + 8, a2);
    wasm_v128_store(lut + c + 12, a3);
  }
  for (; c < kp; c += 4) {
    v128_t a = wasm_f32x4_splat(0.f);
    for (int j = 0; j < d; j++) a = F32X4_MADD(wasm_f32x4_splat(x[j]), wasm_v128_load(bookT + (long)j * kp + c), a);
    wasm_v128_store(lut + c, a);
  }
}

EXPORT(pq_gemm_wasmsimd)
void pq_gemm_wasmsimd(int M, int K, int N, int d, int kp, const float* A, int lda, const uint8_t* idx, const float* bookT,
                      const float* scale, const float* bias, float* C, int ldc, float lo, float hi, float* lut) {
  const int B = K / d;
  for (int m = 0; m < M; m++) {
    const float* a = A + (long)m * lda;
    for (int b = 0; b < B; b++) lookup_table(a + b * d, d, kp, bookT, lut + (long)b * kp);
    float* c = C + (long)m * ldc;
    for (int n = 0; n < N; n++) {
      const uint8_t* ix = idx + (long)n * B;
      /* Four running sums: independent adds, and the lookups of one output spread over four tables at a time. */
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      int b = 0;
      for (; b + 4 <= B; b += 4) {
        const float* t = lut + (long)b * kp;
        s0 += t[ix[b]];
        s1 += t[kp + ix[b + 1]];
        s2 += t[2 * kp + ix[b + 2]];
        s3 += t[3 * kp + ix[b + 3]];
      }
      for (; b < B; b++) s0 += lut[(long)b * kp + ix[b]];
      float r = (s0 + s1) + (s2 + s3);
      if (scale) r *= scale[n];
      if (bias) r += bias[n];
      c[n] = r < lo ? lo : (r > hi ? hi : r);
    }
  }
}
