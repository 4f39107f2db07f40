// Rounding toward the float model's outputs on quantized inputs: the target each output is rounded from is the least
// squares fit of the float outputs on the quantized inputs (checked against normal equations solved from the rows),
// it is the weight itself when the inputs did not change, and GPTQ or AdaRound from it err less on the float outputs
// than the same rounding from the float weight.
import { describe, expect, it } from "vitest";
import { quantizeAffine, type LevelRounding } from "@worker/compress/quantize/affine";
import { adaroundRounding } from "@worker/compress/quantize/adaround";
import { towardFloatOutputs } from "@worker/compress/quantize/float-target";
import { gptqRounding } from "@worker/compress/quantize/gptq";
import { HessianAccumulator } from "@worker/compress/calibrate/hessian";
import { correlated, hessianOf, seededWeights } from "@test/support/hessians";
import { rng } from "@test/support/models";
import type { GemmLayout } from "@worker/onnx/operators";

const matmul = (k: number, n: number): GemmLayout => ({ groups: 1, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n });

/** The inputs a layer sees with the layers before it quantized: each feature rescaled a little, shifted and noisy. */
function perturbed(x: Float32Array, k: number, seed: number): Float32Array {
  const next = rng(seed);
  const gain = Array.from({ length: k }, () => 1 + 0.15 * (next() * 2 - 1));
  const shift = Array.from({ length: k }, () => 0.05 * (next() * 2 - 1));
  return Float32Array.from(x, (v, i) => v * gain[i % k]! + shift[i % k]! + 0.02 * (next() * 2 - 1));
}

/** E[x̃ xᵀ] through the accumulator's paired rows. */
function crossOf(quantized: Float32Array, float: Float32Array, k: number): Float64Array {
  const acc = new HessianAccumulator(k);
  acc.observe(quantized, float);
  return acc.cross()!;
}

/** The data a rounding was handed, and nearest-free levels: lets a test read the target. */
function capturing(): { rounding: LevelRounding; seen: () => Float32Array } {
  let seen: Float32Array | undefined;
  return { rounding: (data, grid) => ((seen = Float32Array.from(data)), { levels: new Int32Array(data.length), scales: grid.scales }), seen: () => seen! };
}

/** Least squares from the rows: w' = (X̃ᵀX̃)⁻¹ X̃ᵀ X w per output, by Gaussian elimination on the normal equations. */
function leastSquares(float: Float32Array, quantized: Float32Array, w: Float32Array, k: number, n: number): Float64Array {
  const rows = float.length / k;
  const out = new Float64Array(k * n);
  for (let o = 0; o < n; o++) {
    const a = Array.from({ length: k }, () => new Float64Array(k + 1));
    for (let r = 0; r < rows; r++) {
      let y = 0;
      for (let i = 0; i < k; i++) y += float[r * k + i]! * w[i * n + o]!;
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) a[i]![j] = a[i]![j]! + quantized[r * k + i]! * quantized[r * k + j]!;
        a[i]![k] = a[i]![k]! + quantized[r * k + i]! * y;
      }
    }
    for (let c = 0; c < k; c++) {
      let p = c;
      for (let r = c + 1; r < k; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
      [a[c], a[p]] = [a[p]!, a[c]!];
      for (let r = 0; r < k; r++) {
        if (r === c) continue;
        const f = a[r]![c]! / a[c]![c]!;
        for (let j = c; j <= k; j++) a[r]![j] = a[r]![j]! - f * a[c]![j]!;
      }
    }
    for (let i = 0; i < k; i++) out[i * n + o] = a[i]![k]! / a[i]![i]!;
  }
  return out;
}

/** Sum over rows of the squared error of the quantized layer (wq on x̃) against the float one (w on x). */
function floatOutputError(float: Float32Array, quantized: Float32Array, w: Float32Array, wq: Float32Array, k: number, n: number): number {
  let total = 0;
  for (let r = 0; r < float.length / k; r++)
    for (let o = 0; o < n; o++) {
      let d = 0;
      for (let i = 0; i < k; i++) d += float[r * k + i]! * w[i * n + o]! - quantized[r * k + i]! * wq[i * n + o]!;
      total += d * d;
    }
  return total;
}

describe("rounding toward the float outputs", () => {
  it("rounds from the least squares fit of the float outputs on the quantized inputs (within 1e-4)", () => {
    const [k, n] = [10, 4];
    const x = correlated(300, k, 3);
    const xq = perturbed(x, k, 4);
    const w = seededWeights(k, n, 5);
    const spy = capturing();
    const grid = { index: new Int32Array(k * n), scales: new Float32Array([1]), zeroPoints: null, scaleDims: [1], qmin: -7, qmax: 7 };
    towardFloatOutputs(spy.rounding, hessianOf(xq, k), crossOf(xq, x, k), matmul(k, n), 0)(w, grid);
    const want = leastSquares(x, xq, w, k, n);
    const got = spy.seen();
    for (let e = 0; e < k * n; e++) expect(got[e]).toBeCloseTo(want[e]!, 4);
    // Not the weight itself: the inputs moved, so the fit moved.
    expect(Math.max(...got.map((v, e) => Math.abs(v - w[e]!)))).toBeGreaterThan(0.01);
  });

  it("is the weight itself when the quantized inputs are the float ones, even from fewer rows than inputs; a pruned weight stays zero", () => {
    const [k, n] = [8, 3];
    // 5 rows span 5 of the 8 input directions: damping pulls the other 3 toward w, not toward zero.
    for (const rows of [200, 5]) {
      const x = correlated(rows, k, 7);
      const w = seededWeights(k, n, 8);
      w[5] = 0;
      const spy = capturing();
      const grid = { index: new Int32Array(k * n), scales: new Float32Array([1]), zeroPoints: null, scaleDims: [1], qmin: -7, qmax: 7 };
      towardFloatOutputs(spy.rounding, hessianOf(x, k), crossOf(x, x, k), matmul(k, n), 0.01)(w, grid);
      const got = spy.seen();
      expect(got[5]).toBe(0);
      for (let e = 0; e < k * n; e++) expect(got[e], `${rows} rows [${e}]`).toBeCloseTo(w[e]!, 4);
    }
  });

  it("rounds each group against its own statistics (a grouped Conv's products)", () => {
    const [k, n] = [6, 2];
    const xs = [correlated(150, k, 11), correlated(150, k, 12)];
    const xqs = xs.map((x, g) => perturbed(x, k, 13 + g));
    const w = seededWeights(k, 2 * n, 14);
    // Two groups of [k, n], stored one after the other.
    const grouped: GemmLayout = { groups: 2, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n };
    const cat = (parts: Float64Array[]) => Float64Array.from(parts.flatMap((p) => [...p]));
    const spy = capturing();
    const grid = { index: new Int32Array(2 * k * n), scales: new Float32Array([1]), zeroPoints: null, scaleDims: [1], qmin: -7, qmax: 7 };
    towardFloatOutputs(spy.rounding, cat(xqs.map((xq) => hessianOf(xq, k))), cat(xqs.map((xq, g) => crossOf(xq, xs[g]!, k))), grouped, 0)(w, grid);
    for (let g = 0; g < 2; g++) {
      const want = leastSquares(xs[g]!, xqs[g]!, w.subarray(g * k * n, (g + 1) * k * n), k, n);
      for (let e = 0; e < k * n; e++) expect(spy.seen()[g * k * n + e]).toBeCloseTo(want[e]!, 4);
    }
  });

  it("GPTQ and AdaRound from the target err less on the float outputs than from the weight (int4 per channel)", () => {
    const [k, n] = [24, 6];
    for (const seed of [1, 2, 3]) {
      const x = correlated(400, k, seed + 20);
      const xq = perturbed(x, k, seed + 30);
      const w = seededWeights(k, n, seed);
      const h = hessianOf(xq, k);
      const cross = crossOf(xq, x, k);
      for (const [name, rounding] of [
        ["gptq", gptqRounding(h, matmul(k, n))],
        ["adaround", adaroundRounding(h, matmul(k, n), { iterations: 200, regularization: 10 })],
      ] as const) {
        const quantize = (r: LevelRounding) => quantizeAffine(w, [k, n], { kind: "channel", axis: 1 }, 4, true, r).reconstructed;
        const plain = floatOutputError(x, xq, w, quantize(rounding), k, n);
        const toward = floatOutputError(x, xq, w, quantize(towardFloatOutputs(rounding, h, cross, matmul(k, n), 0.01)), k, n);
        expect(toward, `${name} seed ${seed}`).toBeLessThan(0.5 * plain);
      }
    }
  });
});

describe("the paired accumulator", () => {
  it("sums x̃ xᵀ over Conv patches as over the same rows laid out by hand, and refuses mixing paired and unpaired rows", () => {
    // A 1x1 Conv over [1, 3, 2, 2] is a MatMul over its 4 positions' 3 channels.
    const k = 3;
    const next = rng(9);
    const xq = Float32Array.from({ length: 12 }, () => next());
    const x = Float32Array.from({ length: 12 }, () => next());
    const conv = new HessianAccumulator(k);
    const window = { kernel: [1, 1] as [number, number], strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number], autoPad: "NOTSET" };
    conv.observeConv(xq, [1, 3, 2, 2], window, x);
    const rows = (v: Float32Array) => Float32Array.from({ length: 12 }, (_, e) => v[(e % 3) * 4 + Math.floor(e / 3)]!);
    const want = new Float64Array(k * k);
    for (let p = 0; p < 4; p++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) want[i * k + j] = want[i * k + j]! + (rows(xq)[p * k + i]! * rows(x)[p * k + j]!) / 4;
    const got = conv.cross()!;
    for (let e = 0; e < k * k; e++) expect(got[e]).toBeCloseTo(want[e]!, 6);
    expect(new HessianAccumulator(k).cross()).toBeUndefined();
    expect(() => conv.observeConv(xq, [1, 3, 2, 2], window)).toThrow(/with and without float values/);
  });
});
