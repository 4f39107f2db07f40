// Scalar references of the activation kernels, in float64 from their definitions: softmax over each row with
// Math.exp (of the float32 difference from the row's max), sigmoid and Swish with Math.exp, GELU as x * Phi(x) from an erf that is not the kernels' fit (the engine's Erf: a series and erfc).
import { erf } from "../../worker/serve/engine/elementwise";

/** Each of `rows` rows of `len`: exp(x - max) / sum, the difference rounded to float32 as a float32 softmax has it. */
export function refSoftmaxRows(X: ArrayLike<number>, rows: number, len: number): Float64Array {
  const Y = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < len; j++) max = Math.max(max, X[r * len + j]!);
    let sum = 0;
    for (let j = 0; j < len; j++) sum += Y[r * len + j] = Math.exp(Math.fround(X[r * len + j]! - max));
    for (let j = 0; j < len; j++) Y[r * len + j]! /= sum;
  }
  return Y;
}

/** x, or x * slope below 0, a slope per row of `len` (PRelu per plane; LeakyRelu: one slope for all). */
export function refLeakyRows(X: ArrayLike<number>, rows: number, len: number, slopes: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: rows * len }, (_, i) => {
    const x = X[i]!;
    return x < 0 ? x * slopes[Math.floor(i / len) % slopes.length]! : x;
  });
}

/** f32_exp_activation's kinds in float64: 0 Elu, 1 Selu (beta = gamma), 2 Celu, 3 Softplus, 4 Mish. */
export function refExpActivation(kind: number, X: ArrayLike<number>, alpha: number, beta: number): Float64Array {
  const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  return Float64Array.from(X, (x) => {
    switch (kind) {
      case 0: return x < 0 ? alpha * Math.expm1(x) : x;
      case 1: return beta * (x <= 0 ? alpha * Math.expm1(x) : x);
      case 2: return x < 0 ? alpha * Math.expm1(x / alpha) : x;
      case 3: return softplus(x);
      default: return x * Math.tanh(softplus(x));
    }
  });
}

/** log(softmax) of each row in float64, as x - max - log(sum exp(x - max)) (finite far below the max). */
export function refLogSoftmaxRows(X: ArrayLike<number>, rows: number, len: number): Float64Array {
  const Y = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < len; j++) max = Math.max(max, X[r * len + j]!);
    let sum = 0;
    for (let j = 0; j < len; j++) sum += Math.exp(X[r * len + j]! - max);
    const shift = max + Math.log(sum);
    for (let j = 0; j < len; j++) Y[r * len + j] = X[r * len + j]! - shift;
  }
  return Y;
}

/** x * sigmoid(alpha x) in float64 (Swish; alpha null: sigmoid(x) alone). */
export function refSwish(X: ArrayLike<number>, alpha: number | null): Float64Array {
  return Float64Array.from(X, (x) => (alpha === null ? 1 / (1 + Math.exp(-x)) : x / (1 + Math.exp(-alpha * x))));
}

/** x * clamp(alpha x + beta, 0, 1) in float64. */
export function refHardSwish(X: ArrayLike<number>, alpha: number, beta: number): Float64Array {
  return Float64Array.from(X, (x) => x * Math.min(1, Math.max(0, alpha * x + beta)));
}

/** Each of `rows` rows of `len`: clamp(x * S[r] + T[r], lo, hi) (S, T null for 1 and 0). */
export function refRowsAffine(X: ArrayLike<number>, rows: number, len: number, S: ArrayLike<number> | null, T: ArrayLike<number> | null, lo: number, hi: number): Float64Array {
  return Float64Array.from(X, (x, i) => {
    const r = Math.floor(i / len);
    return Math.min(hi, Math.max(lo, x * (S ? S[r]! : 1) + (T ? T[r]! : 0)));
  });
}

/** Each row of `len` summed in float64 and divided by `divisor`; and each row's sum of magnitudes (the error scale). */
export function refRowsSum(X: ArrayLike<number>, rows: number, len: number, divisor: number): { sums: Float64Array; magnitudes: Float64Array } {
  const sums = new Float64Array(rows);
  const magnitudes = new Float64Array(rows);
  for (let i = 0; i < rows * len; i++) {
    const r = Math.floor(i / len);
    sums[r] = sums[r]! + X[i]! / divisor;
    magnitudes[r] = magnitudes[r]! + Math.abs(X[i]!) / divisor;
  }
  return { sums, magnitudes };
}

/** Each row's largest (or smallest) element, one at a time; NaN where the row holds one. */
export function refRowsExtreme(X: ArrayLike<number>, rows: number, len: number, lowest: boolean): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = X[r * len]!;
    for (let j = 1; j < len; j++) {
      const v = X[r * len + j]!;
      if (Number.isNaN(v) || Number.isNaN(m)) m = NaN;
      else if (lowest ? v < m : v > m) m = v;
    }
    out[r] = m;
  }
  return out;
}

/** 0.5 x (1 + erf(x / sqrt 2)). */
export function refGeluErf(X: ArrayLike<number>): Float64Array {
  return Float64Array.from(X, (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2)));
}

/** Each row of `len`: (x - mean) / sqrt(var + eps) * gamma + beta (gamma, beta null for 1 and 0). */
export function refLayerNormRows(X: ArrayLike<number>, rows: number, len: number, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, eps: number): Float64Array {
  const Y = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < len; j++) mean += X[r * len + j]! / len;
    let v = 0;
    for (let j = 0; j < len; j++) v += (X[r * len + j]! - mean) ** 2 / len;
    for (let j = 0; j < len; j++) Y[r * len + j] = ((X[r * len + j]! - mean) / Math.sqrt(v + eps)) * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0);
  }
  return Y;
}
