/* Activations on float tensors, vectorised: softmax (and LogSoftmax's shifted exp sums) along contiguous rows, layer
 * normalization, GELU (erf form), sigmoid and Swish/SiLU, HardSwish, LeakyRelu and PRelu (a slope per row), Elu,
 * Selu, Celu, Softplus and Mish (log as Cephes' logf), a scale and shift per row (per NCHW plane), row sums and means,
 * clamping (Relu, Clip) and same-shape Add/Sub/Mul/Div with a clamp fused.
 * exp is Cephes' single-precision scheme: n = round(x log2 e), r = x - n ln 2 in two parts, a degree-5 polynomial
 * for e^r on [-ln2/2, ln2/2] (within 2 ulp), 2^n built in the exponent bits; below -87.3 it is 0 (float32's
 * normal range ends there). NaN stays NaN (the clamps keep it, and it reaches the product). Sigmoid and Swish take a
 * cheaper e^-t (sigmoid_f32x4). */
#include "common.h"

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365478515625f

/* 2^n as a float from `shifted` = n + ROUND_SHIFT (the float adder's rounding): its bits hold n + 0x4B400000, so
 * n << 23 is those bits << 23, and 127 << 23 adds the exponent bias. */
static inline v128_t pow2_of_shifted(v128_t shifted) {
  return wasm_i32x4_add(wasm_i32x4_shl(shifted, 23), wasm_i32x4_splat(127 << 23));
}

static inline v128_t exp_f32x4(v128_t x) {
  const v128_t tiny = wasm_f32x4_lt(x, wasm_f32x4_splat(EXP_LO));
  /* pmin/pmax (one x64 instruction each, where min/max take about seven) keep a NaN x as the first operand. */
  x = wasm_f32x4_pmin(x, wasm_f32x4_splat(EXP_HI));
  x = wasm_f32x4_pmax(x, wasm_f32x4_splat(EXP_LO));
  /* n = round(x log2 e) through the float adder (as round_i32x4). */
  const v128_t shifted = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), wasm_f32x4_splat(ROUND_SHIFT));
  const v128_t n = wasm_f32x4_sub(shifted, wasm_f32x4_splat(ROUND_SHIFT));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = F32X4_MADD(p, r, wasm_f32x4_splat(1.3981999507e-3f));
  p = F32X4_MADD(p, r, wasm_f32x4_splat(8.3334519073e-3f));
  p = F32X4_MADD(p, r, wasm_f32x4_splat(4.1665795894e-2f));
  p = F32X4_MADD(p, r, wasm_f32x4_splat(1.6666665459e-1f));
  p = F32X4_MADD(p, r, wasm_f32x4_splat(5.0000001201e-1f));
  p = F32X4_MADD(wasm_f32x4_mul(p, r), r, wasm_f32x4_add(r, wasm_f32x4_splat(1.f)));
  return wasm_v128_andnot(wasm_f32x4_mul(p, pow2_of_shifted(shifted)), tiny);
}

/* One float through the same computation (row tails), so a row's result does not depend on its length. */
static inline float exp_f32(float x) {
  return wasm_f32x4_extract_lane(exp_f32x4(wasm_f32x4_splat(x)), 0);
}

/* The largest of a row's `len` floats (NaN when any is NaN). */
static inline float row_max(const float* x, int len) {
  int k = 0;
  v128_t vmax = wasm_f32x4_splat(-__builtin_inff());
  for (; k + 4 <= len; k += 4) vmax = wasm_f32x4_max(vmax, wasm_v128_load(x + k));
  float mx = wasm_f32x4_extract_lane(vmax, 0);
  const float m1 = wasm_f32x4_extract_lane(vmax, 1), m2 = wasm_f32x4_extract_lane(vmax, 2), m3 = wasm_f32x4_extract_lane(vmax, 3);
  mx = __builtin_isnan(m1) || m1 > mx ? m1 : mx;
  mx = __builtin_isnan(m2) || m2 > mx ? m2 : mx;
  mx = __builtin_isnan(m3) || m3 > mx ? m3 : mx;
  for (; k < len; k++) mx = __builtin_isnan(x[k]) || x[k] > mx ? x[k] : mx;
  return mx;
}

/* Y[r, :] = softmax(X[r, :]) for `rows` contiguous rows of `len`: max, exp(x - max) and its sum, then one multiply
 * by 1 / sum. X and Y may be the same. */
EXPORT(f32_softmax_rows)
void f32_softmax_rows(int rows, int len, const float* X, float* Y) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * len;
    float* y = Y + (long)r * len;
    const float mx = row_max(x, len);
    const v128_t vm = wasm_f32x4_splat(mx);
    v128_t vsum = wasm_f32x4_splat(0.f);
    int k = 0;
    for (; k + 4 <= len; k += 4) {
      const v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(x + k), vm));
      wasm_v128_store(y + k, e);
      vsum = wasm_f32x4_add(vsum, e);
    }
    float sum = (wasm_f32x4_extract_lane(vsum, 0) + wasm_f32x4_extract_lane(vsum, 1)) +
                (wasm_f32x4_extract_lane(vsum, 2) + wasm_f32x4_extract_lane(vsum, 3));
    for (; k < len; k++) sum += y[k] = exp_f32(x[k] - mx);
    const v128_t inv = wasm_f32x4_splat(1.f / sum);
    k = 0;
    for (; k + 4 <= len; k += 4) wasm_v128_store(y + k, wasm_f32x4_mul(wasm_v128_load(y + k), inv));
    for (; k < len; k++) y[k] *= 1.f / sum;
  }
}

/* LogSoftmax's first pass: Y[r, :] = X[r, :] - max and S[r] = sum of exp(Y[r, :]), for `rows` contiguous rows of
 * `len` (the caller adds -log S[r] to each row: f32_rows_affine). A row far below its max keeps its true value where
 * log(softmax) would be log(0). X and Y may be the same. */
EXPORT(f32_shifted_exp_sums)
void f32_shifted_exp_sums(int rows, int len, const float* X, float* Y, float* S) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * len;
    float* y = Y + (long)r * len;
    const v128_t vm = wasm_f32x4_splat(row_max(x, len));
    v128_t vsum = wasm_f32x4_splat(0.f);
    int k = 0;
    for (; k + 4 <= len; k += 4) {
      const v128_t d = wasm_f32x4_sub(wasm_v128_load(x + k), vm);
      wasm_v128_store(y + k, d);
      vsum = wasm_f32x4_add(vsum, exp_f32x4(d));
    }
    float sum = (wasm_f32x4_extract_lane(vsum, 0) + wasm_f32x4_extract_lane(vsum, 1)) +
                (wasm_f32x4_extract_lane(vsum, 2) + wasm_f32x4_extract_lane(vsum, 3));
    const float mx = wasm_f32x4_extract_lane(vm, 0);
    for (; k < len; k++) sum += exp_f32(y[k] = x[k] - mx);
    S[r] = sum;
  }
}

/* erf as Eigen's float rational fit on [-4, 4] (odd numerator, even denominator), +-1 beyond: within 7e-8. */
static inline v128_t erf_f32x4(v128_t x) {
  const v128_t u = wasm_f32x4_pmax(wasm_f32x4_pmin(x, wasm_f32x4_splat(4.f)), wasm_f32x4_splat(-4.f)); /* NaN stays */
  const v128_t u2 = wasm_f32x4_mul(u, u);
  v128_t p = wasm_f32x4_splat(-2.72614225801306e-10f);
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(2.77068142495902e-08f));
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(-2.10102402082508e-06f));
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(-5.69250639462346e-05f));
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(-7.34990630326855e-04f));
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(-2.95459980854025e-03f));
  p = F32X4_MADD(p, u2, wasm_f32x4_splat(-1.60960333262415e-02f));
  p = wasm_f32x4_mul(p, u);
  v128_t q = wasm_f32x4_splat(-1.45660718464996e-05f);
  q = F32X4_MADD(q, u2, wasm_f32x4_splat(-2.13374055278905e-04f));
  q = F32X4_MADD(q, u2, wasm_f32x4_splat(-1.68282697438203e-03f));
  q = F32X4_MADD(q, u2, wasm_f32x4_splat(-7.37332916720468e-03f));
  q = F32X4_MADD(q, u2, wasm_f32x4_splat(-1.42647390514189e-02f));
  return wasm_f32x4_div(p, q);
}

/* Y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) over n elements (X and Y may be the same). */
EXPORT(f32_gelu_erf)
void f32_gelu_erf(int n, const float* X, float* Y) {
  const v128_t half = wasm_f32x4_splat(0.5f), one = wasm_f32x4_splat(1.f), rsqrt2 = wasm_f32x4_splat(0.70710678118654752f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t x = wasm_v128_load(X + i);
    const v128_t e = erf_f32x4(wasm_f32x4_mul(x, rsqrt2));
    wasm_v128_store(Y + i, wasm_f32x4_mul(wasm_f32x4_mul(half, x), wasm_f32x4_add(one, e)));
  }
  for (; i < n; i++) {
    const float x = X[i];
    Y[i] = 0.5f * x * (1.f + wasm_f32x4_extract_lane(erf_f32x4(wasm_f32x4_splat(x * 0.70710678118654752f)), 0));
  }
}

/* sigmoid(t) = 1 / (1 + e^-t), e^-t as 2^u with u = -t log2 e clamped to [-126, 126]: 2^u = 2^n 2^f, n = round(u)
 * built in the exponent bits, f in [-1/2, 1/2] through a degree-5 polynomial fitted to 2^f for relative error (2.2e-7
 * in float32; u's own rounding adds |u| 4e-8). A third fewer operations than exp_f32x4 (one reduction step, no
 * underflow mask): sigmoid and SiLU run over every activation of the networks that use them. A large |t| gives
 * 2^-126 or exactly 1, never NaN; NaN stays NaN (pmin/pmax keep it). */
static inline v128_t sigmoid_f32x4(v128_t t) {
  const v128_t one = wasm_f32x4_splat(1.f);
  v128_t u = wasm_f32x4_mul(t, wasm_f32x4_splat(-1.44269504088896341f));
  u = wasm_f32x4_pmin(u, wasm_f32x4_splat(126.f));
  u = wasm_f32x4_pmax(u, wasm_f32x4_splat(-126.f));
  const v128_t shifted = wasm_f32x4_add(u, wasm_f32x4_splat(ROUND_SHIFT));
  const v128_t f = wasm_f32x4_sub(u, wasm_f32x4_sub(shifted, wasm_f32x4_splat(ROUND_SHIFT)));
  v128_t p = wasm_f32x4_splat(1.3266975293e-3f);
  p = F32X4_MADD(p, f, wasm_f32x4_splat(9.6754645929e-3f));
  p = F32X4_MADD(p, f, wasm_f32x4_splat(5.5507425219e-2f));
  p = F32X4_MADD(p, f, wasm_f32x4_splat(2.4022121727e-1f));
  p = F32X4_MADD(p, f, wasm_f32x4_splat(6.9314694405e-1f));
  p = F32X4_MADD(p, f, wasm_f32x4_splat(1.0000001192e+0f));
  return wasm_f32x4_div(one, wasm_f32x4_add(one, wasm_f32x4_mul(p, pow2_of_shifted(shifted))));
}

/* Y = sigmoid(X) over n elements (Y may be X). */
EXPORT(f32_sigmoid)
void f32_sigmoid(int n, const float* X, float* Y) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(Y + i, sigmoid_f32x4(wasm_v128_load(X + i)));
  for (; i < n; i++) Y[i] = wasm_f32x4_extract_lane(sigmoid_f32x4(wasm_f32x4_splat(X[i])), 0);
}

/* log(x) for x > 0 (Cephes' single-precision scheme: x = m 2^e with m in [sqrt(1/2), sqrt(2)), a degree-8 polynomial
 * in m - 1, within 2 ulp). */
static inline v128_t log_f32x4(v128_t x) {
  const v128_t bits = x;
  v128_t e = wasm_i32x4_sub(wasm_u32x4_shr(bits, 23), wasm_i32x4_splat(126));
  v128_t m = wasm_v128_or(wasm_v128_and(bits, wasm_i32x4_splat(0x807fffff)), wasm_i32x4_splat(0x3f000000)); /* [0.5, 1) */
  const v128_t small = wasm_f32x4_lt(m, wasm_f32x4_splat(0.707106781186547524f));
  e = wasm_i32x4_add(e, small); /* true lanes are -1 */
  m = wasm_f32x4_sub(wasm_f32x4_add(m, wasm_v128_and(m, small)), wasm_f32x4_splat(1.f));
  const v128_t fe = wasm_f32x4_convert_i32x4(e);
  const v128_t z = wasm_f32x4_mul(m, m);
  v128_t p = wasm_f32x4_splat(7.0376836292e-2f);
  p = F32X4_MADD(p, m, wasm_f32x4_splat(-1.1514610310e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(1.1676998740e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(-1.2420140846e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(1.4249322787e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(-1.6668057665e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(2.0000714765e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(-2.4999993993e-1f));
  p = F32X4_MADD(p, m, wasm_f32x4_splat(3.3333331174e-1f));
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, m), z);
  y = F32X4_MADD(fe, wasm_f32x4_splat(-2.12194440e-4f), y);
  y = F32X4_MADD(z, wasm_f32x4_splat(-0.5f), y);
  return F32X4_MADD(fe, wasm_f32x4_splat(0.693359375f), wasm_f32x4_add(m, y));
}

/* log(1 + t) for t in [0, 1], with the rounding of 1 + t corrected so that a tiny t keeps its value. */
static inline v128_t log1p_unit_f32x4(v128_t t) {
  const v128_t u = wasm_f32x4_add(wasm_f32x4_splat(1.f), t);
  const v128_t lost = wasm_f32x4_sub(t, wasm_f32x4_sub(u, wasm_f32x4_splat(1.f)));
  return wasm_f32x4_add(log_f32x4(u), wasm_f32x4_div(lost, u));
}

/* The exp-based activations, kind 0 Elu (alpha), 1 Selu (alpha, gamma = beta), 2 Celu (alpha), 3 Softplus, 4 Mish. */
static inline v128_t exp_activation_f32x4(int kind, v128_t x, v128_t va, v128_t vb) {
  const v128_t zero = wasm_f32x4_splat(0.f), one = wasm_f32x4_splat(1.f);
  switch (kind) {
    case 0: case 1: case 2: {
      const v128_t arg = kind == 2 ? wasm_f32x4_div(x, va) : x;
      const v128_t neg = wasm_f32x4_mul(va, wasm_f32x4_sub(exp_f32x4(wasm_f32x4_pmin(arg, zero)), one));
      const v128_t y = wasm_v128_bitselect(neg, x, kind == 1 ? wasm_f32x4_le(x, zero) : wasm_f32x4_lt(x, zero));
      return kind == 1 ? wasm_f32x4_mul(vb, y) : y;
    }
    case 3: /* max(x, 0) + log(1 + e^-|x|) */
      return wasm_f32x4_add(wasm_f32x4_pmax(x, zero), log1p_unit_f32x4(exp_f32x4(wasm_f32x4_neg(wasm_f32x4_abs(x)))));
    default: { /* x tanh(log(1 + n)) = x n (n + 2) / (n (n + 2) + 2), n = e^min(x, 20) */
      const v128_t n = exp_f32x4(wasm_f32x4_pmin(x, wasm_f32x4_splat(20.f)));
      const v128_t q = wasm_f32x4_mul(n, wasm_f32x4_add(n, wasm_f32x4_splat(2.f)));
      return wasm_f32x4_mul(x, wasm_f32x4_div(q, wasm_f32x4_add(q, wasm_f32x4_splat(2.f))));
    }
  }
}

/* Y = the exp-based activation `kind` of X over n elements (see exp_activation_f32x4). Y may be X. */
EXPORT(f32_exp_activation)
void f32_exp_activation(int kind, int n, float alpha, float beta, const float* X, float* Y) {
  const v128_t va = wasm_f32x4_splat(alpha), vb = wasm_f32x4_splat(beta);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(Y + i, exp_activation_f32x4(kind, wasm_v128_load(X + i), va, vb));
  for (; i < n; i++) Y[i] = wasm_f32x4_extract_lane(exp_activation_f32x4(kind, wasm_f32x4_splat(X[i]), va, vb), 0);
}

/* Y = X * sigmoid(alpha * X) over n elements: Swish, SiLU at alpha 1 (which exporters write as Sigmoid then Mul, one
 * pass here instead of two). Y may be X. */
EXPORT(f32_swish)
void f32_swish(int n, float alpha, const float* X, float* Y) {
  const v128_t va = wasm_f32x4_splat(alpha);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t x = wasm_v128_load(X + i);
    wasm_v128_store(Y + i, wasm_f32x4_mul(x, sigmoid_f32x4(wasm_f32x4_mul(va, x))));
  }
  for (; i < n; i++) Y[i] = X[i] * wasm_f32x4_extract_lane(sigmoid_f32x4(wasm_f32x4_splat(alpha * X[i])), 0);
}

/* Y = clamp(A op B, lo, hi) over n elements of two same-shape tensors, op 0 add, 1 sub, 2 mul, 3 div (a residual
 * Add with the Relu after it fused); lo/hi = -inf/inf for none. NaN is kept. Y may be A or B. */
EXPORT(f32_binary_clamp)
void f32_binary_clamp(int op, int n, const float* A, const float* B, float lo, float hi, float* Y) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
#define BINARY_LOOP(VOP, SOP)                                                                           \
  for (; i + 4 <= n; i += 4)                                                                            \
    wasm_v128_store(Y + i, clamp_f32x4(VOP(wasm_v128_load(A + i), wasm_v128_load(B + i)), vlo, vhi));   \
  for (; i < n; i++) {                                                                                  \
    const float r = A[i] SOP B[i];                                                                      \
    Y[i] = clamp_f32(r, lo, hi);                                                                        \
  }
  switch (op) {
    case 0: BINARY_LOOP(wasm_f32x4_add, +) break;
    case 1: BINARY_LOOP(wasm_f32x4_sub, -) break;
    case 2: BINARY_LOOP(wasm_f32x4_mul, *) break;
    default: BINARY_LOOP(wasm_f32x4_div, /) break;
  }
#undef BINARY_LOOP
}

/* Y = clamp(X, lo, hi) over n elements (Relu, Clip, or a fused activation after a broadcasting op); NaN is kept. */
EXPORT(f32_clamp)
void f32_clamp(int n, const float* X, float lo, float hi, float* Y) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(Y + i, clamp_f32x4(wasm_v128_load(X + i), vlo, vhi));
  for (; i < n; i++) Y[i] = clamp_f32(X[i], lo, hi);
}

/* Y[r, i] = X[r, i] where it is not negative, else X[r, i] * slope_r, over `rows` contiguous rows of `len`: PRelu
 * with a slope per NCHW plane (S[r]), or LeakyRelu (S 0: alpha for every row). NaN stays NaN. Y may be X. */
EXPORT(f32_leaky_rows)
void f32_leaky_rows(int rows, int len, const float* X, const float* S, float alpha, float* Y) {
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (int r = 0; r < rows; r++) {
    const float s = S ? S[r] : alpha;
    const v128_t vs = wasm_f32x4_splat(s);
    const float* x = X + (long)r * len;
    float* y = Y + (long)r * len;
    int i = 0;
    for (; i + 4 <= len; i += 4) {
      const v128_t v = wasm_v128_load(x + i);
      wasm_v128_store(y + i, wasm_v128_bitselect(wasm_f32x4_mul(v, vs), v, wasm_f32x4_lt(v, zero)));
    }
    for (; i < len; i++) y[i] = x[i] < 0.f ? x[i] * s : x[i];
  }
}

/* Y[r, i] = clamp(X[r, i] * S[r] + T[r], lo, hi) over `rows` contiguous rows of `len`: a scale and shift per NCHW
 * plane (a BatchNormalization that no linear op before it absorbs, or a Mul or Add by a tensor that broadcasts over the
 * planes, as squeeze-and-excitation gates write it), with a following Relu/Clip fused. S or T 0: 1 or 0. The product
 * is rounded before the sum (no fused multiply-add in either build). Y may be X. */
EXPORT(f32_rows_affine)
void f32_rows_affine(int rows, int len, const float* X, const float* S, const float* T, float lo, float hi, float* Y) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  for (int r = 0; r < rows; r++) {
    const float s = S ? S[r] : 1.f, t = T ? T[r] : 0.f;
    const v128_t vs = wasm_f32x4_splat(s), vt = wasm_f32x4_splat(t);
    const float* x = X + (long)r * len;
    float* y = Y + (long)r * len;
    int i = 0;
    for (; i + 4 <= len; i += 4) wasm_v128_store(y + i, clamp_f32x4(wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + i), vs), vt), vlo, vhi));
    for (; i < len; i++) y[i] = clamp_f32(x[i] * s + t, lo, hi);
  }
}

/* Y[r] = sum(X[r, :]) / divisor for `rows` contiguous rows of `len`: GlobalAveragePool, and ReduceMean/ReduceSum over
 * trailing axes (divisor len or 1). Sixteen running float32 sums, added pairwise at the end. */
EXPORT(f32_rows_sum)
void f32_rows_sum(int rows, int len, const float* X, float divisor, float* Y) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * len;
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= len; i += 16) {
      s0 = wasm_f32x4_add(s0, wasm_v128_load(x + i));
      s1 = wasm_f32x4_add(s1, wasm_v128_load(x + i + 4));
      s2 = wasm_f32x4_add(s2, wasm_v128_load(x + i + 8));
      s3 = wasm_f32x4_add(s3, wasm_v128_load(x + i + 12));
    }
    for (; i + 4 <= len; i += 4) s0 = wasm_f32x4_add(s0, wasm_v128_load(x + i));
    const v128_t s = wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3));
    float sum = (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) + (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
    for (; i < len; i++) sum += x[i];
    Y[r] = sum / divisor;
  }
}

/* The larger (or, with `lowest`, smaller) of a and b; NaN when either is (as wasm's f32x4 max and min give). */
static inline float extreme_of(float a, float b, int lowest) {
  if (a != a || b != b) return a + b;
  return lowest ? (b < a ? b : a) : (b > a ? b : a);
}

/* Y[r] = max (or, with `lowest`, min) of X[r, :] for `rows` contiguous rows of `len` >= 1: GlobalMaxPool, and
 * ReduceMax/ReduceMin over trailing axes. A NaN in a row gives NaN, as the scalar max/min of onnxruntime does. */
EXPORT(f32_rows_extreme)
void f32_rows_extreme(int rows, int len, const float* X, int lowest, float* Y) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * len;
    float m = x[0];
    int i = 0;
    if (len >= 16) {
      v128_t m0 = wasm_v128_load(x), m1 = wasm_v128_load(x + 4), m2 = wasm_v128_load(x + 8), m3 = wasm_v128_load(x + 12);
      for (i = 16; i + 16 <= len; i += 16) {
        const v128_t a = wasm_v128_load(x + i), b = wasm_v128_load(x + i + 4), c = wasm_v128_load(x + i + 8), d = wasm_v128_load(x + i + 12);
        m0 = lowest ? wasm_f32x4_min(m0, a) : wasm_f32x4_max(m0, a);
        m1 = lowest ? wasm_f32x4_min(m1, b) : wasm_f32x4_max(m1, b);
        m2 = lowest ? wasm_f32x4_min(m2, c) : wasm_f32x4_max(m2, c);
        m3 = lowest ? wasm_f32x4_min(m3, d) : wasm_f32x4_max(m3, d);
      }
      const v128_t ab = lowest ? wasm_f32x4_min(m0, m1) : wasm_f32x4_max(m0, m1);
      const v128_t cd = lowest ? wasm_f32x4_min(m2, m3) : wasm_f32x4_max(m2, m3);
      const v128_t v = lowest ? wasm_f32x4_min(ab, cd) : wasm_f32x4_max(ab, cd);
      m = extreme_of(extreme_of(wasm_f32x4_extract_lane(v, 0), wasm_f32x4_extract_lane(v, 1), lowest),
                     extreme_of(wasm_f32x4_extract_lane(v, 2), wasm_f32x4_extract_lane(v, 3), lowest), lowest);
    }
    for (; i < len; i++) m = extreme_of(m, x[i], lowest);
    Y[r] = m;
  }
}

/* Y = X * clamp(alpha X + beta, 0, 1) over n elements: HardSwish at alpha 1/6, beta 1/2 (MobileNetV3's activation,
 * which exporters before opset 14 write as HardSigmoid then Mul). Y may be X. */
EXPORT(f32_hardswish)
void f32_hardswish(int n, float alpha, float beta, const float* X, float* Y) {
  const v128_t va = wasm_f32x4_splat(alpha), vb = wasm_f32x4_splat(beta);
  const v128_t zero = wasm_f32x4_splat(0.f), one = wasm_f32x4_splat(1.f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t x = wasm_v128_load(X + i);
    wasm_v128_store(Y + i, wasm_f32x4_mul(x, clamp_f32x4(wasm_f32x4_add(wasm_f32x4_mul(va, x), vb), zero, one)));
  }
  for (; i < n; i++) Y[i] = X[i] * clamp_f32(alpha * X[i] + beta, 0.f, 1.f);
}

/* Layer normalization over `rows` contiguous rows of D: y = (x - mean) / sqrt(var + eps) * gamma + beta, mean and
 * (biased) variance in two passes over the row in float32 lanes; gamma and beta hold D floats or are 0 (1 and 0). */
EXPORT(f32_layernorm_rows)
void f32_layernorm_rows(int rows, int D, const float* X, const float* gamma, const float* beta, float eps, float* Y) {
  for (int r = 0; r < rows; r++) {
    const float* x = X + (long)r * D;
    float* y = Y + (long)r * D;
    v128_t vs = wasm_f32x4_splat(0.f);
    int j = 0;
    for (; j + 4 <= D; j += 4) vs = wasm_f32x4_add(vs, wasm_v128_load(x + j));
    float sum = (wasm_f32x4_extract_lane(vs, 0) + wasm_f32x4_extract_lane(vs, 1)) + (wasm_f32x4_extract_lane(vs, 2) + wasm_f32x4_extract_lane(vs, 3));
    for (; j < D; j++) sum += x[j];
    const float mean = sum / (float)D;
    const v128_t vm = wasm_f32x4_splat(mean);
    v128_t vq = wasm_f32x4_splat(0.f);
    j = 0;
    for (; j + 4 <= D; j += 4) {
      const v128_t d = wasm_f32x4_sub(wasm_v128_load(x + j), vm);
      vq = F32X4_MADD(d, d, vq);
    }
    float sq = (wasm_f32x4_extract_lane(vq, 0) + wasm_f32x4_extract_lane(vq, 1)) + (wasm_f32x4_extract_lane(vq, 2) + wasm_f32x4_extract_lane(vq, 3));
    for (; j < D; j++) sq += (x[j] - mean) * (x[j] - mean);
    const float inv = 1.f / __builtin_sqrtf(sq / (float)D + eps);
    const v128_t vi = wasm_f32x4_splat(inv);
    j = 0;
    for (; j + 4 <= D; j += 4) {
      v128_t n = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + j), vm), vi);
      if (gamma) n = wasm_f32x4_mul(n, wasm_v128_load(gamma + j));
      if (beta) n = wasm_f32x4_add(n, wasm_v128_load(beta + j));
      wasm_v128_store(y + j, n);
    }
    for (; j < D; j++) {
      float n = (x[j] - mean) * inv;
      if (gamma) n *= gamma[j];
      if (beta) n += beta[j];
      y[j] = n;
    }
  }
}
