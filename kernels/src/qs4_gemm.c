/* int4 weights (one fp32 scale per block of 32 along K) x int8 activations (qs4_quantize_rows, Kp a multiple of 32).
 * Weights are stored offset by 8 (u = w + 8 in 0..15) so that they fit the 7-bit operand of the relaxed dot.
 * Layout: column group g (columns 4g..4g+3) block b is 64 bytes at (g * Kp/32 + b) * 64; byte 16p + 4c + t holds
 * u[32b + 8p + t, 4g + c] in its low nibble and u[32b + 8p + 4 + t, 4g + c] in its high nibble (padding: u = 8).
 * So one nibble plane times 4 activations splatted to every lane gives the 4 columns' sums in the 4 lanes: no
 * horizontal sums. Block sums start from qsum[m * Kp/32 + b] = -8 * sum of the block's activations (the offset).
 * Scales: wsT[b * Np + n] (Np a multiple of 4).
 * C[m,n] = clamp(as_m * sum_b f32(dot_b) * ws[b,n] + bias_n, lo, hi), blocks summed in order.
 * qs4z_gemm_wasmsimd_rx4 takes levels whose block and column span any 16 consecutive integers (an asymmetric grid's
 * q - zero point, in -15..15): they are stored offset by 8 + zT[b * Np + n] instead of 8, and each block's dot adds
 * back zT times the block's activation sum (qsum / -8). */
#include "common.h"

void qs8_quantize_rows(int M, int K, int Kp, const float* A, int lda, int8_t* Q, float* scales);

/* qs8_quantize_rows, then each block's -8 * sum of activations (the weight offset's share of the block's dot). */
EXPORT(qs4_quantize_rows)
void qs4_quantize_rows(int M, int K, int Kp, const float* A, int lda, int8_t* Q, float* scales, int32_t* qsum) {
  qs8_quantize_rows(M, K, Kp, A, lda, Q, scales);
  const int blocks = Kp / 32;
  for (int m = 0; m < M; m++) {
    const int8_t* q = Q + (long)m * Kp;
    for (int b = 0; b < blocks; b++) {
      const v128_t a0 = wasm_v128_load(q + 32 * b), a1 = wasm_v128_load(q + 32 * b + 16);
      v128_t s = wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(a0), wasm_i16x8_extadd_pairwise_i8x16(a1));
      s = wasm_i32x4_extadd_pairwise_i16x8(s);
      s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
      s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
      qsum[(long)m * blocks + b] = -8 * wasm_i32x4_extract_lane(s, 0);
    }
  }
}

#ifdef RELAXED
#define QS4_ROWS 4
#else
#define QS4_ROWS 2
#endif

/* Integer dot of one block for `rows` rows (acc[r] starts at the offset correction): 4 columns in the lanes. */
static inline void block_dots(int rows, const int8_t* const* q, int kb, const uint8_t* wb, v128_t* acc) {
  const v128_t mask = wasm_i8x16_splat(0x0f);
  for (int p = 0; p < 4; p++) {
    const v128_t packed = wasm_v128_load(wb + 16 * p);
    const v128_t lo = wasm_v128_and(packed, mask), hi = wasm_u8x16_shr(packed, 4);
#ifdef RELAXED
    for (int r = 0; r < rows; r++) {
      acc[r] = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load32_splat(q[r] + kb + 8 * p), lo, acc[r]);
      acc[r] = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load32_splat(q[r] + kb + 8 * p + 4), hi, acc[r]);
    }
#else
    /* Lanes of the i16 dots hold (column, k pair): [c0 c0 c1 c1] and [c2 c2 c3 c3], folded after the block. */
    const v128_t lo01 = wasm_u16x8_extend_low_u8x16(lo), lo23 = wasm_u16x8_extend_high_u8x16(lo);
    const v128_t hi01 = wasm_u16x8_extend_low_u8x16(hi), hi23 = wasm_u16x8_extend_high_u8x16(hi);
    for (int r = 0; r < rows; r++) {
      const v128_t a0 = wasm_i16x8_extend_low_i8x16(wasm_v128_load32_splat(q[r] + kb + 8 * p));
      const v128_t a1 = wasm_i16x8_extend_low_i8x16(wasm_v128_load32_splat(q[r] + kb + 8 * p + 4));
      acc[2 * r] = wasm_i32x4_add(acc[2 * r], wasm_i32x4_add(wasm_i32x4_dot_i16x8(a0, lo01), wasm_i32x4_dot_i16x8(a1, hi01)));
      acc[2 * r + 1] = wasm_i32x4_add(acc[2 * r + 1], wasm_i32x4_add(wasm_i32x4_dot_i16x8(a0, lo23), wasm_i32x4_dot_i16x8(a1, hi23)));
    }
#endif
  }
}

/* One tile: `rows` rows x 4 columns over all blocks, stored with the epilogue. */
static inline void tile(int rows, int m, int Kp, const int8_t* Q, const float* as, const int32_t* qsum, const uint8_t* wg,
                        const float* wsT, const int16_t* zT, int Np, const float* bias, float* C, int ldc, int n0, int cols, v128_t vlo,
                        v128_t vhi) {
  const int blocks = Kp / 32;
  const int8_t* q[QS4_ROWS];
  v128_t f[QS4_ROWS];
  for (int r = 0; r < rows; r++) {
    q[r] = Q + (long)(m + r) * Kp;
    f[r] = wasm_f32x4_splat(0.f);
  }
  for (int b = 0; b < blocks; b++) {
#ifdef RELAXED
    v128_t acc[QS4_ROWS];
    for (int r = 0; r < rows; r++) acc[r] = wasm_v128_load32_splat(qsum + (long)(m + r) * blocks + b);
#else
    v128_t acc[2 * QS4_ROWS];
    for (int r = 0; r < rows; r++) {
      acc[2 * r] = wasm_i32x4_splat(0);
      acc[2 * r + 1] = wasm_i32x4_splat(0);
    }
#endif
    block_dots(rows, q, 32 * b, wg + 64 * b, acc);
    const v128_t ws = wasm_v128_load(wsT + (long)b * Np + n0);
    const v128_t z = zT ? wasm_i32x4_load16x4(zT + (long)b * Np + n0) : wasm_i32x4_splat(0);
    for (int r = 0; r < rows; r++) {
#ifdef RELAXED
      v128_t d = acc[r];
#else
      v128_t d = wasm_i32x4_add(
          wasm_i32x4_add(wasm_i32x4_shuffle(acc[2 * r], acc[2 * r + 1], 0, 2, 4, 6),
                         wasm_i32x4_shuffle(acc[2 * r], acc[2 * r + 1], 1, 3, 5, 7)),
          wasm_v128_load32_splat(qsum + (long)(m + r) * blocks + b));
#endif
      /* The offset beyond 8 times the block's activation sum: qsum holds -8 times that sum, exactly. */
      if (zT) d = wasm_i32x4_add(d, wasm_i32x4_mul(z, wasm_i32x4_splat(qsum[(long)(m + r) * blocks + b] / 8)));
      f[r] = F32X4_MADD(wasm_f32x4_convert_i32x4(d), ws, f[r]);
    }
  }
  for (int r = 0; r < rows; r++) {
    v128_t out = wasm_f32x4_mul(f[r], wasm_f32x4_splat(as[m + r]));
    if (bias) out = wasm_f32x4_add(out, wasm_v128_load(bias + n0));
    out = clamp_f32x4(out, vlo, vhi);
    float* c = C + (long)(m + r) * ldc + n0;
    if (cols == 4) wasm_v128_store(c, out);
    else store_partial_f32x4(c, out, cols);
  }
}

/* Rows in tiles of 4 (relaxed build) or 2 (plain build) sharing each unpacked weight block, the rest one by one. */
static void gemm(int M, int Kp, int N, const int8_t* Q, const float* as, const int32_t* qsum, const uint8_t* W,
                 const float* wsT, const int16_t* zT, int Np, const float* bias, float* C, int ldc, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int n0 = 0; n0 < N; n0 += 4) {
    const int cols = N - n0 < 4 ? N - n0 : 4;
    const uint8_t* wg = W + (long)n0 * (Kp / 2);
    int m = 0;
    for (; m + QS4_ROWS <= M; m += QS4_ROWS)
      tile(QS4_ROWS, m, Kp, Q, as, qsum, wg, wsT, zT, Np, bias, C, ldc, n0, cols, vlo, vhi);
    for (; m < M; m++) tile(1, m, Kp, Q, as, qsum, wg, wsT, zT, Np, bias, C, ldc, n0, cols, vlo, vhi);
  }
}

EXPORT(qs4_gemm_wasmsimd_rx4)
void qs4_gemm_wasmsimd_rx4(int M, int Kp, int N, const int8_t* Q, const float* as, const int32_t* qsum, const uint8_t* W,
                           const float* wsT, int Np, const float* bias, float* C, int ldc, float lo, float hi) {
  gemm(M, Kp, N, Q, as, qsum, W, wsT, 0, Np, bias, C, ldc, lo, hi);
}

EXPORT(qs4z_gemm_wasmsimd_rx4)
void qs4z_gemm_wasmsimd_rx4(int M, int Kp, int N, const int8_t* Q, const float* as, const int32_t* qsum, const uint8_t* W,
                            const float* wsT, const int16_t* zT, int Np, const float* bias, float* C, int ldc, float lo,
                            float hi) {
  gemm(M, Kp, N, Q, as, qsum, W, wsT, zT, Np, bias, C, ldc, lo, hi);
}
