/* The gate math of one recurrent step, vectorised over the hidden units: LSTM's cell (gates i, o, f, c, as ONNX orders
 * them) and GRU's (gates z, r, h). Sigmoid and tanh are the rational approximations onnxruntime's MLAS uses (within
 * 3e-8 of the exact values), evaluated in float32 four lanes at a time; a row's tail goes through the same lanes, so a
 * unit's result does not depend on H. Clamps keep NaN (clamp_f32x4: pmin/pmax keep a NaN first operand). */
#include "common.h"

static const float TANH_P[] = {-2.76076847742355e-16f, 2.00018790482477e-13f, -8.60467152213735e-11f, 5.12229709037114e-8f,
                               1.48572235717979e-5f, 6.37261928875436e-4f, 4.89352455891786e-3f};
static const float TANH_Q[] = {1.19825839466702e-6f, 1.18534705686654e-4f, 2.268434632439e-3f, 4.89352518554385e-3f};
static const float SIGMOID_P[] = {4.37031012579801e-11f, 1.15627324459942e-7f, 6.08574864600143e-5f, 8.51377133304701e-3f, 2.48287947061529e-1f};
static const float SIGMOID_Q[] = {6.1024738975568e-13f, 5.76102136993427e-9f, 6.2910678501704e-6f, 1.70198817374094e-3f,
                                  1.16817656904453e-1f, 9.9315192102318e-1f};

/* c[0] x^(n-1) + ... + c[n-1] by Horner's rule, a multiply then an add per step. */
static inline v128_t horner(v128_t x, const float* c, int n) {
  v128_t p = wasm_f32x4_splat(c[0]);
  for (int i = 1; i < n; i++) p = wasm_f32x4_add(wasm_f32x4_mul(p, x), wasm_f32x4_splat(c[i]));
  return p;
}

/* tanh(x) = x p(x^2) / q(x^2) on [-9, 9]. */
static inline v128_t tanh_f32x4(v128_t v) {
  const v128_t x = clamp_f32x4(v, wasm_f32x4_splat(-9.f), wasm_f32x4_splat(9.f));
  const v128_t x2 = wasm_f32x4_mul(x, x);
  return wasm_f32x4_div(wasm_f32x4_mul(horner(x2, TANH_P, 7), x), horner(x2, TANH_Q, 4));
}

/* sigmoid(x) = 0.5 + x p(x^2) / q(x^2) on [-18, 18], clamped to [0, 1]. */
static inline v128_t sigmoid_f32x4(v128_t v) {
  const v128_t x = clamp_f32x4(v, wasm_f32x4_splat(-18.f), wasm_f32x4_splat(18.f));
  const v128_t x2 = wasm_f32x4_mul(x, x);
  const v128_t r = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_mul(horner(x2, SIGMOID_P, 5), x), horner(x2, SIGMOID_Q, 6)), wasm_f32x4_splat(0.5f));
  return clamp_f32x4(r, wasm_f32x4_splat(0.f), wasm_f32x4_splat(1.f));
}

/* Four units (or, at a row's tail, `n` < 4 of them, the rest zero-filled) of one float array into a vector. */
static inline v128_t load_n(const float* p, int n) {
  if (n == 4) return wasm_v128_load(p);
  float t[4] = {0.f, 0.f, 0.f, 0.f};
  for (int i = 0; i < n; i++) t[i] = p[i];
  return wasm_v128_load(t);
}

static inline void store_n(float* p, v128_t v, int n) {
  if (n == 4) {
    wasm_v128_store(p, v);
    return;
  }
  float t[4];
  wasm_v128_store(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}

/* A gate's pre-activation at units j..j+n: its input projection plus its h R^T. */
static inline v128_t pre(const float* XW, const float* G, int at, int n) {
  return wasm_f32x4_add(load_n(XW + at, n), load_n(G + at, n));
}

/* One LSTM step for one batch row of H units. XW holds the row's input projection with both biases (4H: i, o, f, c),
 * G its h R^T (4H); P the peepholes (3H: i, o, f) or null; pre-activations are clamped to [-clip, clip] (clip may be
 * infinite); with input_forget, f = 1 - i. Reads C (the cell state) and writes it and Hs (the hidden state), and Y
 * when not null. Hs may be where h R^T was read from (G is computed before the call). */
EXPORT(f32_lstm_cell)
void f32_lstm_cell(int H, const float* XW, const float* G, const float* P, float clip, int input_forget, float* C, float* Hs, float* Y) {
  const v128_t hi = wasm_f32x4_splat(clip), lo = wasm_f32x4_splat(-clip), one = wasm_f32x4_splat(1.f);
  for (int j = 0; j < H; j += 4) {
    const int n = H - j < 4 ? H - j : 4;
    const v128_t c_prev = load_n(C + j, n);
    v128_t vi = pre(XW, G, j, n), vf = pre(XW, G, 2 * H + j, n), vo = pre(XW, G, H + j, n);
    if (P) {
      vi = wasm_f32x4_add(vi, wasm_f32x4_mul(load_n(P + j, n), c_prev));
      vf = wasm_f32x4_add(vf, wasm_f32x4_mul(load_n(P + 2 * H + j, n), c_prev));
    }
    const v128_t ig = sigmoid_f32x4(clamp_f32x4(vi, lo, hi));
    const v128_t fg = input_forget ? wasm_f32x4_sub(one, ig) : sigmoid_f32x4(clamp_f32x4(vf, lo, hi));
    const v128_t cg = tanh_f32x4(clamp_f32x4(pre(XW, G, 3 * H + j, n), lo, hi));
    const v128_t c_new = wasm_f32x4_add(wasm_f32x4_mul(fg, c_prev), wasm_f32x4_mul(ig, cg));
    if (P) vo = wasm_f32x4_add(vo, wasm_f32x4_mul(load_n(P + H + j, n), c_new));
    const v128_t og = sigmoid_f32x4(clamp_f32x4(vo, lo, hi));
    const v128_t h_new = wasm_f32x4_mul(og, tanh_f32x4(c_new));
    store_n(C + j, c_new, n);
    store_n(Hs + j, h_new, n);
    if (Y) store_n(Y + j, h_new, n);
  }
}

/* The gates z and r of one GRU step for one row of H units, from XW (the input projection, 3H: z, r, h, biases in)
 * and G (h R^T of the z and r rows, 2H): Z = sigmoid(z), RH = sigmoid(r) * Hs. linear_before_reset=0's first half:
 * RH then goes through Rh. */
EXPORT(f32_gru_reset)
void f32_gru_reset(int H, const float* XW, const float* G, float clip, const float* Hs, float* Z, float* RH) {
  const v128_t hi = wasm_f32x4_splat(clip), lo = wasm_f32x4_splat(-clip);
  for (int j = 0; j < H; j += 4) {
    const int n = H - j < 4 ? H - j : 4;
    store_n(Z + j, sigmoid_f32x4(clamp_f32x4(pre(XW, G, j, n), lo, hi)), n);
    store_n(RH + j, wasm_f32x4_mul(sigmoid_f32x4(clamp_f32x4(pre(XW, G, H + j, n), lo, hi)), load_n(Hs + j, n)), n);
  }
}

/* One GRU step's new hidden state for one row of H units: Hs = (1 - z) tanh(h~) + z Hs, also into Y when not null.
 * Without Z (linear_before_reset=1): z and r from XW + G, where G is h R^T + Rb over all 3H rows, and
 * h~ = XW_h + r G_h. With Z (linear_before_reset=0, after f32_gru_reset): h~ = XW_h + GH, GH being (r * h) Rh^T. */
EXPORT(f32_gru_cell)
void f32_gru_cell(int H, const float* XW, const float* G, const float* Z, const float* GH, float clip, float* Hs, float* Y) {
  const v128_t hi = wasm_f32x4_splat(clip), lo = wasm_f32x4_splat(-clip), one = wasm_f32x4_splat(1.f);
  for (int j = 0; j < H; j += 4) {
    const int n = H - j < 4 ? H - j : 4;
    v128_t z, vh;
    if (Z) {
      z = load_n(Z + j, n);
      vh = wasm_f32x4_add(load_n(XW + 2 * H + j, n), load_n(GH + j, n));
    } else {
      z = sigmoid_f32x4(clamp_f32x4(pre(XW, G, j, n), lo, hi));
      const v128_t r = sigmoid_f32x4(clamp_f32x4(pre(XW, G, H + j, n), lo, hi));
      vh = wasm_f32x4_add(load_n(XW + 2 * H + j, n), wasm_f32x4_mul(r, load_n(G + 2 * H + j, n)));
    }
    const v128_t hg = tanh_f32x4(clamp_f32x4(vh, lo, hi));
    const v128_t h = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(one, z), hg), wasm_f32x4_mul(z, load_n(Hs + j, n)));
    store_n(Hs + j, h, n);
    if (Y) store_n(Y + j, h, n);
  }
}
