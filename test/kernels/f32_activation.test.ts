// f32_softmax_rows, f32_shifted_exp_sums (LogSoftmax), f32_layernorm_rows, f32_gelu_erf, f32_sigmoid, f32_swish,
// f32_hardswish, f32_leaky_rows (LeakyRelu, PRelu), f32_exp_activation (Elu, Selu, Celu, Softplus, Mish),
// f32_rows_affine, f32_rows_sum and f32_rows_extreme against float64 references: row lengths around the 4- and
// 16-lane steps and long rows, inputs from -60 to 60 (exp's reduction and its underflow to 0; -90 to 90 for the
// exp-based activations), masked entries (-Infinity) as attention writes them, rows written in place; GELU over -10
// to 10 at lengths around the step.
import { describe, expect, it } from "vitest";
import { refExpActivation, refGeluErf, refHardSwish, refLayerNormRows, refLeakyRows, refLogSoftmaxRows, refRowsAffine, refRowsExtreme, refRowsSum, refSoftmaxRows, refSwish } from "@kernels/reference/f32_activation";
import { kernelInstance, tileSizes, uniform } from "@test/support/kernels";

/** Largest |a - b| over each element's max(|b|, floor). */
function worst(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  return a.length === b.length ? e : Infinity;
}

function softmax(X: Float32Array, rows: number, len: number, inPlace = false) {
  const kx = kernelInstance();
  const x = kx.put(X);
  const y = inPlace ? x : kx.alloc(X.length * 4);
  kx.k.f32_softmax_rows(rows, len, x, y);
  return kx.f32(y, X.length).slice();
}

describe("f32_softmax_rows", () => {
  it("matches float64 softmax within 1e-6 relative (of each probability above 1e-30) for lengths around 4 and long rows", () => {
    for (const len of [...tileSizes(4), 7, 128, 1000]) {
      for (const rows of [1, 3]) {
        for (const a of [1, 20, 60]) {
          const X = uniform(rows * len, len * 7 + rows + a, a);
          expect(worst(softmax(X, rows, len), refSoftmaxRows(X, rows, len), 1e-30), `${rows}x${len} range ${a}`).toBeLessThan(1e-6);
        }
      }
    }
  });

  it("gives masked (-Infinity) entries 0 and the others their share, in place as well", () => {
    const len = 19;
    const X = uniform(2 * len, 11, 3);
    for (let j = 5; j < len; j += 3) X[j] = X[len + j - 1] = -Infinity;
    for (const inPlace of [false, true]) {
      const got = softmax(X.slice(), 2, len, inPlace);
      for (let j = 5; j < len; j += 3) expect(got[j]).toBe(0);
      expect(worst(got, refSoftmaxRows(X, 2, len), 1e-30)).toBeLessThan(1e-6);
      expect(got.slice(0, len).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    }
  });

  it("keeps NaN in a row that holds one", () => {
    const X = uniform(9, 5, 1);
    X[6] = NaN;
    expect(softmax(X, 1, 9).every((v) => Number.isNaN(v))).toBe(true);
  });
});

/** LogSoftmax as the engine computes it: the kernel's shifted rows and exp sums, then -log(sum) added per row. */
function logSoftmax(X: Float32Array, rows: number, len: number, inPlace = false) {
  const kx = kernelInstance();
  const x = kx.put(X);
  const y = inPlace ? x : kx.alloc(X.length * 4);
  const s = kx.alloc(rows * 4);
  kx.k.f32_shifted_exp_sums(rows, len, x, y, s);
  const shifts = kx.put(Float32Array.from(kx.f32(s, rows), (v) => -Math.log(v)));
  kx.k.f32_rows_affine(rows, len, y, 0, shifts, -Infinity, Infinity, y);
  return kx.f32(y, X.length).slice();
}

describe("f32_shifted_exp_sums (LogSoftmax)", () => {
  it("gives log(softmax) within 1e-6 of float64 (absolute below 1, relative above), finite far below the max, in place as well", () => {
    for (const len of [...tileSizes(4), 7, 128, 1000]) {
      for (const rows of [1, 3]) {
        for (const a of [1, 20, 60]) {
          const X = uniform(rows * len, len * 5 + rows + a, a);
          const want = refLogSoftmaxRows(X, rows, len);
          for (const inPlace of [false, true]) {
            const got = logSoftmax(X.slice(), rows, len, inPlace);
            expect(worst(got, want, 1), `${rows}x${len} range ${a}`).toBeLessThan(1e-6);
            expect(got.every(Number.isFinite)).toBe(true);
          }
        }
      }
    }
  });

  it("gives masked (-Infinity) entries -Infinity and keeps NaN in a row that holds one", () => {
    const X = uniform(18, 7, 3);
    X[2] = -Infinity;
    X[12] = NaN;
    const got = logSoftmax(X, 2, 9);
    expect(got[2]).toBe(-Infinity);
    expect(worst(got.slice(3, 9), refLogSoftmaxRows(X.slice(0, 9), 1, 9).slice(3, 9), 1)).toBeLessThan(1e-6);
    expect(got.slice(9).every((v) => Number.isNaN(v))).toBe(true);
  });
});

describe("f32_leaky_rows (LeakyRelu, PRelu)", () => {
  it("keeps non-negative x and scales negative x by each row's slope (or alpha), NaN kept, in place as well", () => {
    for (const len of [...tileSizes(4), 33]) {
      for (const rows of [1, 3]) {
        const X = uniform(rows * len, len + rows, 5);
        X[0] = NaN;
        const slopes = uniform(rows, rows + 1, 1);
        for (const perRow of [true, false]) {
          for (const inPlace of [false, true]) {
            const kx = kernelInstance();
            const x = kx.put(X);
            const y = inPlace ? x : kx.alloc(X.length * 4);
            kx.k.f32_leaky_rows(rows, len, x, perRow ? kx.put(slopes) : 0, 0.1, y);
            const got = kx.f32(y, X.length);
            const want = refLeakyRows(X, rows, len, perRow ? slopes : [0.1]);
            expect(got[0]).toBeNaN();
            expect(worst(got.slice(1), want.slice(1), 1e-30), `${rows}x${len}`).toBeLessThan(1e-7);
          }
        }
      }
    }
  });
});

describe("f32_exp_activation (Elu, Selu, Celu, Softplus, Mish)", () => {
  it("matches float64 within 2e-6 (absolute below 1, relative above) from -90 to 90, lengths around the step, NaN kept", () => {
    for (const [kind, alpha, beta] of [[0, 1, 0], [0, 0.3, 0], [1, 1.6733, 1.0507], [2, 1, 0], [2, 2.5, 0], [3, 0, 0], [4, 0, 0]] as const) {
      for (const n of [...tileSizes(4), 301]) {
        const X = uniform(n, n + kind, 90);
        X[0] = NaN;
        const kx = kernelInstance();
        const y = kx.alloc(n * 4);
        kx.k.f32_exp_activation(kind, n, alpha, beta, kx.put(X), y);
        const got = kx.f32(y, n);
        expect(got[0]).toBeNaN();
        expect(worst(got.slice(1), refExpActivation(kind, X, alpha, beta).slice(1), 1), `kind ${kind} alpha ${alpha} n ${n}`).toBeLessThan(2e-6);
      }
    }
  });

  it("keeps Softplus and Mish of very negative x at their tiny true values (log1p, not log of 1 + e^x)", () => {
    const X = Float32Array.from([-15, -30, -60, -80, -1e-3, 1e-7]);
    for (const kind of [3, 4]) {
      const kx = kernelInstance();
      const y = kx.alloc(X.length * 4);
      kx.k.f32_exp_activation(kind, X.length, 0, 0, kx.put(X), y);
      expect(worst(kx.f32(y, X.length), refExpActivation(kind, X, 0, 0), 1e-38), `kind ${kind}`).toBeLessThan(1e-5);
    }
  });
});

describe("f32_gelu_erf", () => {
  it("matches 0.5 x (1 + erf(x / sqrt 2)) within 1e-6 (absolute below 1, relative above) from -10 to 10", () => {
    for (const n of [...tileSizes(4), 1001]) {
      const X = uniform(n, n + 3, 10);
      const kx = kernelInstance();
      const x = kx.put(X);
      const y = kx.alloc(n * 4);
      kx.k.f32_gelu_erf(n, x, y);
      expect(worst(kx.f32(y, n), refGeluErf(X), 1), `n ${n}`).toBeLessThan(1e-6);
    }
  });
});

describe("f32_sigmoid and f32_swish", () => {
  it("match float64 sigmoid(x) and x sigmoid(alpha x) within 1e-6 (absolute below 1, relative above) from -100 to 100, in place as well", () => {
    for (const n of [...tileSizes(4), 1001]) {
      const X = uniform(n, n + 5, 100);
      for (const alpha of [null, 1, 0.35, -2]) {
        for (const inPlace of [false, true]) {
          const kx = kernelInstance();
          const x = kx.put(X);
          const y = inPlace ? x : kx.alloc(n * 4);
          if (alpha === null) kx.k.f32_sigmoid(n, x, y);
          else kx.k.f32_swish(n, alpha, x, y);
          expect(worst(kx.f32(y, n), refSwish(X, alpha), 1), `n ${n} alpha ${alpha}`).toBeLessThan(1e-6);
        }
      }
    }
  });

  it("saturate far out (below float32's normal range, and exactly 1) and keep NaN", () => {
    const kx = kernelInstance();
    const X = Float32Array.of(-1000, -90, 90, 1000, NaN);
    const y = kx.alloc(X.length * 4);
    kx.k.f32_sigmoid(X.length, kx.put(X), y);
    const [far, near, up, farUp, nan] = Array.from(kx.f32(y, X.length));
    for (const v of [far!, near!]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1.2e-38);
    }
    expect([up, farUp]).toEqual([1, 1]);
    expect(nan).toBeNaN();
  });
});

describe("f32_hardswish", () => {
  it("matches x clamp(alpha x + beta, 0, 1) within 1e-6 from -8 to 8 (both kinks and the linear part), in place as well", () => {
    for (const n of [...tileSizes(4), 999]) {
      const X = uniform(n, n + 11, 8);
      for (const [alpha, beta] of [[1 / 6, 0.5], [0.2, 0.5], [0.5, -0.25]] as const) {
        for (const inPlace of [false, true]) {
          const kx = kernelInstance();
          const x = kx.put(X);
          const y = inPlace ? x : kx.alloc(n * 4);
          kx.k.f32_hardswish(n, alpha, beta, x, y);
          expect(worst(kx.f32(y, n), refHardSwish(X, alpha, beta), 1), `n ${n} alpha ${alpha}`).toBeLessThan(1e-6);
        }
      }
    }
  });
});

describe("f32_rows_affine", () => {
  it("matches clamp(x * S[row] + T[row], lo, hi) within 1e-6 for row lengths around 4, with scale, shift or both, in place as well", () => {
    for (const len of [...tileSizes(4), 196]) {
      const rows = 5;
      const X = uniform(rows * len, len + 17, 4);
      const S = uniform(rows, len + 18, 2);
      const T = uniform(rows, len + 19, 1);
      for (const [s, t, lo, hi] of [[S, T, -Infinity, Infinity], [S, null, 0, Infinity], [null, T, -0.5, 0.75]] as const) {
        for (const inPlace of [false, true]) {
          const kx = kernelInstance();
          const x = kx.put(X);
          const y = inPlace ? x : kx.alloc(X.length * 4);
          kx.k.f32_rows_affine(rows, len, x, s ? kx.put(s) : 0, t ? kx.put(t) : 0, lo, hi, y);
          expect(worst(kx.f32(y, X.length), refRowsAffine(X, rows, len, s, t, lo, hi), 1), `len ${len}`).toBeLessThan(1e-6);
        }
      }
    }
  });
});

describe("f32_rows_sum", () => {
  it("matches the float64 sum (or mean) of each row within 1e-6 of the row's sum of magnitudes, for lengths around 4 and 16 and a 112 x 112 plane", () => {
    for (const len of [...tileSizes(4), ...tileSizes(16), 12544]) {
      const rows = 3;
      const X = uniform(rows * len, len + 23, 5).map((v, r) => v + (r < len ? 2 : 0)); // one row with a mean far from 0
      for (const divisor of [1, len]) {
        const kx = kernelInstance();
        const y = kx.alloc(rows * 4);
        kx.k.f32_rows_sum(rows, len, kx.put(X), divisor, y);
        const got = kx.f32(y, rows);
        const { sums, magnitudes } = refRowsSum(X, rows, len, divisor);
        for (let r = 0; r < rows; r++) expect(Math.abs(got[r]! - sums[r]!), `len ${len} row ${r} / ${divisor}`).toBeLessThanOrEqual(1e-6 * magnitudes[r]!);
      }
    }
  });
});

describe("f32_rows_extreme", () => {
  it("gives each row's exact max (or min) for lengths around 4 and 16 and a 112 x 112 plane, the extreme anywhere in the row", () => {
    for (const len of [...tileSizes(4), ...tileSizes(16), 12544]) {
      const rows = 4;
      const X = uniform(rows * len, len + 31, 3);
      // Row 1's extremes at its first element, row 2's at its last, row 3's in the middle (a lane of the tail or of a block).
      X[len] = 9;
      X[len + 1 < 2 * len ? len + 1 : len] = -9;
      X[3 * len - 1] = 8;
      X[3 * len + (len >> 1)] = -8;
      for (const lowest of [0, 1]) {
        const kx = kernelInstance();
        const y = kx.alloc(rows * 4);
        kx.k.f32_rows_extreme(rows, len, kx.put(X), lowest, y);
        expect(Array.from(kx.f32(y, rows)), `len ${len} ${lowest ? "min" : "max"}`).toEqual(Array.from(refRowsExtreme(X, rows, len, lowest === 1)));
      }
    }
  });

  it("gives NaN for a row holding a NaN, wherever it lies, and leaves the other rows alone", () => {
    for (const len of [1, 5, 16, 37]) {
      for (const at of [0, len - 1, len >> 1]) {
        const X = uniform(2 * len, len + at, 2);
        X[len + at] = NaN;
        for (const lowest of [0, 1]) {
          const kx = kernelInstance();
          const y = kx.alloc(8);
          kx.k.f32_rows_extreme(2, len, kx.put(X), lowest, y);
          const got = kx.f32(y, 2);
          expect(got[0], `len ${len}`).toBe(refRowsExtreme(X, 1, len, lowest === 1)[0]);
          expect(got[1], `len ${len} NaN at ${at}`).toBeNaN();
        }
      }
    }
  });
});

describe("f32_layernorm_rows", () => {
  it("matches float64 layer normalization within 1e-5 for lengths around 4 and long rows, with and without gamma and beta", () => {
    for (const len of [...tileSizes(4), 384]) {
      const rows = 3;
      const X = uniform(rows * len, len + 9, 3).map((v, i) => v + (i % len === 0 ? 5 : 0)); // an offset mean
      const gamma = uniform(len, len + 1, 2);
      const beta = uniform(len, len + 2, 1);
      for (const [g, b] of [[gamma, beta], [null, null], [gamma, null]] as const) {
        const kx = kernelInstance();
        const y = kx.alloc(X.length * 4);
        kx.k.f32_layernorm_rows(rows, len, kx.put(X), g ? kx.put(g) : 0, b ? kx.put(b) : 0, 1e-5, y);
        expect(worst(kx.f32(y, X.length), refLayerNormRows(X, rows, len, g, b, 1e-5), 1), `len ${len}`).toBeLessThan(1e-5);
      }
    }
  });

  it("lets epsilon dominate a constant row (no division by zero)", () => {
    const X = new Float32Array(8).fill(2);
    const kx = kernelInstance();
    const y = kx.alloc(32);
    kx.k.f32_layernorm_rows(1, 8, kx.put(X), 0, 0, 1e-5, y);
    expect(Array.from(kx.f32(y, 8))).toEqual(new Array(8).fill(0));
  });
});
