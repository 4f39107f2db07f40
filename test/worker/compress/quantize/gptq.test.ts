// GPTQ rounding: the inverse-Hessian factor against a direct inverse, the levels against a plain Optimal Brain
// Quantizer reference (explicit inverse, one row removed per step), nearest rounding when inputs are uncorrelated, and
// a layer output error on the calibration inputs never worse than nearest rounding's.
import { describe, expect, it } from "vitest";
import { affineGrid, nearestLevels, quantizeAffine, type AffineGrid, type Grouping } from "@worker/compress/quantize/affine";
import { blockedLayout, gptqRounding, inverseHessianFactor } from "@worker/compress/quantize/gptq";
import { rng } from "@test/support/models";
import { hessianOf, outputError, seededWeights } from "@test/support/hessians";
import type { GemmLayout } from "@worker/onnx/operators";

/** MatMul's [k, n] weight as one product; Gemm's transposed [n, k] one. */
const matmul = (k: number, n: number): GemmLayout => ({ groups: 1, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n });
const transposed = (k: number, n: number): GemmLayout => ({ groups: 1, K: k, N: n, kStride: 1, nStride: k, groupStride: k * n });

/** Correlated calibration inputs: rows of k features mixed from a few latent factors, plus noise and an outlier feature. */
function inputs(rows: number, k: number, seed: number): Float32Array {
  const next = rng(seed);
  const factors = 3;
  const mix = Array.from({ length: factors * k }, () => next() * 2 - 1);
  const x = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: factors }, () => next() * 2 - 1);
    for (let i = 0; i < k; i++) {
      let v = 0.2 * (next() * 2 - 1);
      for (let f = 0; f < factors; f++) v += z[f]! * mix[f * k + i]!;
      x[r * k + i] = i === 1 ? 6 * v : v;
    }
  }
  return x;
}

/** Plain k x k inverse by Gauss-Jordan elimination with partial pivoting. */
function invert(a: Float64Array, k: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(k * k);
  for (let i = 0; i < k; i++) inv[i * k + i] = 1;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r * k + c]!) > Math.abs(m[p * k + c]!)) p = r;
    for (let j = 0; j < k; j++) {
      [m[c * k + j], m[p * k + j]] = [m[p * k + j]!, m[c * k + j]!];
      [inv[c * k + j], inv[p * k + j]] = [inv[p * k + j]!, inv[c * k + j]!];
    }
    const d = m[c * k + c]!;
    for (let j = 0; j < k; j++) {
      m[c * k + j] = m[c * k + j]! / d;
      inv[c * k + j] = inv[c * k + j]! / d;
    }
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = m[r * k + c]!;
      for (let j = 0; j < k; j++) {
        m[r * k + j] = m[r * k + j]! - f * m[c * k + j]!;
        inv[r * k + j] = inv[r * k + j]! - f * inv[c * k + j]!;
      }
    }
  }
  return inv;
}

/**
 * The Optimal Brain Quantizer in its plain form: quantize input feature f, move the remaining features by
 * -(w_f - q_f) / Hinv[f][f] * Hinv[f][:], then drop f from Hinv by one Gaussian elimination step. GPTQ computes the
 * same updates from a Cholesky factor; this keeps the explicit inverse. W is [k, n], features along axis 0.
 */
function obqLevels(data: Float32Array, k: number, n: number, hessian: Float64Array, damp: number, grid: AffineGrid): Int32Array {
  const h = Float64Array.from(hessian);
  let mean = 0;
  for (let i = 0; i < k; i++) mean += h[i * k + i]! / k;
  for (let i = 0; i < k; i++) h[i * k + i] = h[i * k + i]! + damp * mean;
  const hinv = invert(h, k);
  const w = Float64Array.from(data);
  const levels = new Int32Array(k * n);
  for (let f = 0; f < k; f++) {
    const d = hinv[f * k + f]!;
    for (let o = 0; o < n; o++) {
      const e = f * n + o;
      const g = grid.index[e]!;
      const s = grid.scales[g]!;
      const q = Math.min(grid.qmax, Math.max(grid.qmin, Math.round(w[e]! / s)));
      levels[e] = q;
      const err = (w[e]! - q * s) / d;
      for (let j = f + 1; j < k; j++) w[j * n + o] = w[j * n + o]! - err * hinv[f * k + j]!;
    }
    // Remove feature f: Hinv <- Hinv - Hinv[:, f] Hinv[f, :] / Hinv[f][f].
    const row = Float64Array.from({ length: k }, (_, j) => hinv[f * k + j]!);
    for (let i = 0; i < k; i++) {
      const c = hinv[i * k + f]! / d;
      if (c === 0) continue;
      for (let j = 0; j < k; j++) hinv[i * k + j] = hinv[i * k + j]! - c * row[j]!;
    }
  }
  return levels;
}

describe("GPTQ's inverse-Hessian factor", () => {
  it("is an upper factor of the damped inverse: (Uᵀ U) H = I within 1e-8", () => {
    const k = 10;
    const h = hessianOf(inputs(200, k, 3), k);
    const u = inverseHessianFactor(h, k, 0.01);
    let mean = 0;
    for (let i = 0; i < k; i++) mean += h[i * k + i]! / k;
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) expect(u[i * k + j]).toBe(0);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        let v = 0;
        for (let m = 0; m < k; m++) {
          let hinv = 0;
          for (let p = 0; p < k; p++) hinv += u[p * k + i]! * u[p * k + m]!;
          v += hinv * (h[m * k + j]! + (m === j ? 0.01 * mean : 0));
        }
        expect(v).toBeCloseTo(i === j ? 1 : 0, 8);
      }
  });

  it("gives a dead input (never active) a unit diagonal instead of failing", () => {
    const k = 4;
    const x = inputs(50, k, 5);
    for (let r = 0; r < 50; r++) x[r * k + 2] = 0;
    const u = inverseHessianFactor(hessianOf(x, k), k, 0);
    expect(u.every(Number.isFinite)).toBe(true);
    expect(u[2 * k + 3]).toBe(0);
  });
});

describe("GPTQ rounding", () => {
  it("chooses the levels of a plain Optimal Brain Quantizer reference (int4, per output channel and blocks)", () => {
    const [k, n] = [24, 6];
    for (const grouping of [{ kind: "channel", axis: 1 }, { kind: "block", axis: 0, block: 8 }] as Grouping[]) {
      for (const seed of [1, 2, 3]) {
        const w = seededWeights(k, n, seed);
        const h = hessianOf(inputs(300, k, seed + 10), k);
        const grid = affineGrid(w, [k, n], grouping, 4, true);
        const got = gptqRounding(h, matmul(k, n), { dampening: 0.01, actOrder: false })(w, grid).levels;
        const want = obqLevels(w, k, n, h, 0.01, grid);
        expect(Array.from(got), `${grouping.kind} seed ${seed}`).toEqual(Array.from(want));
      }
    }
  });

  it("reads a Gemm weight stored transposed ([n, k], inputs on axis 1) as the same layer", () => {
    const [k, n] = [16, 5];
    const w = seededWeights(k, n, 4);
    const wt = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let o = 0; o < n; o++) wt[o * k + i] = w[i * n + o]!;
    const h = hessianOf(inputs(200, k, 9), k);
    const a = gptqRounding(h, matmul(k, n))(w, affineGrid(w, [k, n], { kind: "channel", axis: 1 }, 4, true)).levels;
    const b = gptqRounding(h, transposed(k, n))(wt, affineGrid(wt, [n, k], { kind: "channel", axis: 0 }, 4, true)).levels;
    for (let i = 0; i < k; i++) for (let o = 0; o < n; o++) expect(b[o * k + i]).toBe(a[i * n + o]);
  });

  it("is nearest rounding when the inputs are uncorrelated (diagonal Hessian): there is no error to move", () => {
    const [k, n] = [12, 4];
    const w = seededWeights(k, n, 7);
    const h = new Float64Array(k * k);
    for (let i = 0; i < k; i++) h[i * k + i] = 1 + i;
    const grid = affineGrid(w, [k, n], { kind: "channel", axis: 1 }, 4, true);
    expect(Array.from(gptqRounding(h, matmul(k, n))(w, grid).levels)).toEqual(Array.from(nearestLevels(w, grid).levels));
  });

  it("never has a larger output error on the calibration inputs than nearest rounding (8, 4 and asymmetric 4 bits)", () => {
    const [k, n] = [32, 8];
    const cases: { bits: number; symmetric: boolean; grouping: Grouping }[] = [
      { bits: 8, symmetric: true, grouping: { kind: "channel", axis: 1 } },
      { bits: 4, symmetric: true, grouping: { kind: "block", axis: 0, block: 16 } },
      { bits: 4, symmetric: false, grouping: { kind: "channel", axis: 1 } },
      { bits: 2, symmetric: true, grouping: { kind: "block", axis: 0, block: 16 } },
    ];
    for (const c of cases)
      for (const actOrder of [false, true])
        for (const seed of [1, 2, 3, 4]) {
          const w = seededWeights(k, n, seed);
          const x = inputs(400, k, seed + 20);
          const h = hessianOf(x, k);
          const nearest = quantizeAffine(w, [k, n], c.grouping, c.bits, c.symmetric).reconstructed;
          const compensated = quantizeAffine(w, [k, n], c.grouping, c.bits, c.symmetric, gptqRounding(h, matmul(k, n), { dampening: 0.01, actOrder })).reconstructed;
          const label = `${c.bits}-bit ${c.symmetric ? "symmetric" : "asymmetric"} ${c.grouping.kind} actOrder=${actOrder} seed ${seed}`;
          expect(outputError(x, w, compensated, k, n), label).toBeLessThan(outputError(x, w, nearest, k, n));
        }
  });

  it("refits a sign grid's scales by least squares: the same signs with the grid's own scales do worse", () => {
    const [k, n] = [32, 6];
    for (const seed of [1, 2, 3]) {
      const w = seededWeights(k, n, seed);
      const x = inputs(300, k, seed + 40);
      const h = hessianOf(x, k);
      const index = Int32Array.from({ length: k * n }, (_, e) => e % n);
      const scales = Float32Array.from({ length: n }, (_, o) => {
        let s = 0;
        for (let i = 0; i < k; i++) s += Math.abs(w[i * n + o]!);
        return s / k;
      });
      const grid: AffineGrid = { index, scales, zeroPoints: null, scaleDims: [n], qmin: -1, qmax: 1, signOnly: true };
      const rounded = gptqRounding(h, matmul(k, n))(w, grid);
      expect(rounded.scales).not.toBe(grid.scales);
      expect([...rounded.levels].every((v) => v === 1 || v === -1)).toBe(true);
      const refit = Float32Array.from(rounded.levels, (v, e) => v * rounded.scales[index[e]!]!);
      const kept = Float32Array.from(rounded.levels, (v, e) => v * scales[index[e]!]!);
      expect(outputError(x, w, refit, k, n), `seed ${seed}`).toBeLessThan(outputError(x, w, kept, k, n));
    }
  });

  it("rounds a weight in diagonal blocks as it rounds against the whole block-diagonal Hessian (4 bits, and 1 bit with refitted scales)", () => {
    const [k, n, blocks] = [24, 5, 3];
    const span = k / blocks;
    // Diagonal blocks of equal mean diagonal, so that damping by the mean diagonal is the same whole or by block.
    const parts = Array.from({ length: blocks }, (_, b) => hessianOf(inputs(200, span, 30 + b), span));
    const trace = (h: Float64Array) => Array.from({ length: span }, (_, i) => h[i * span + i]!).reduce((a, v) => a + v, 0);
    const traces = parts.map(trace);
    parts.forEach((h, b) => h.forEach((v, e) => (h[e] = (v * traces[0]!) / traces[b]!)));
    const whole = new Float64Array(k * k);
    const concatenated = new Float64Array(blocks * span * span);
    parts.forEach((h, b) => {
      concatenated.set(h, b * span * span);
      for (let i = 0; i < span; i++) for (let j = 0; j < span; j++) whole[(b * span + i) * k + b * span + j] = h[i * span + j]!;
    });
    for (const layout of [matmul(k, n), transposed(k, n)]) {
      const w = seededWeights(k, n, 8);
      const data = layout.kStride === 1 ? Float32Array.from({ length: k * n }, (_, e) => w[(e % k) * n + Math.floor(e / k)]!) : w;
      const grids: AffineGrid[] = [affineGrid(data, layout.kStride === 1 ? [n, k] : [k, n], { kind: "channel", axis: layout.kStride === 1 ? 0 : 1 }, 4, true)];
      const index = Int32Array.from({ length: k * n }, (_, e) => (layout.kStride === 1 ? Math.floor(e / k) : e % n));
      grids.push({ index, scales: Float32Array.from({ length: n }, () => 0.3), zeroPoints: null, scaleDims: [n], qmin: -1, qmax: 1, signOnly: true });
      for (const grid of grids) {
        const blocked = blockedLayout(layout, blocks)!;
        expect(blocked).toMatchObject({ groups: blocks, K: span, blocks });
        const byBlocks = gptqRounding(concatenated, blocked)(data, grid);
        const full = gptqRounding(whole, layout)(data, grid);
        expect(Array.from(byBlocks.levels)).toEqual(Array.from(full.levels));
        for (let g = 0; g < n; g++) expect(byBlocks.scales[g]).toBeCloseTo(full.scales[g]!, 6);
        if (grid.signOnly) expect(Array.from(byBlocks.scales)).not.toEqual(Array.from(grid.scales));
      }
    }
    expect(blockedLayout(matmul(k, n), 5)).toBeUndefined(); // 24 inputs do not split into 5 blocks
    expect(blockedLayout({ groups: 2, K: k, N: n, kStride: 1, nStride: k, groupStride: n * k }, 3)).toBeUndefined();
  });

  it("rounds each group of a grouped weight against its own Hessian, as if each group were its own layer", () => {
    // Two groups of 3 outputs x 10 inputs, laid out as a Conv weight [6, 10] (outputs outer, inputs contiguous).
    const [k, n, groups] = [10, 3, 2];
    const w = seededWeights(k, groups * n, 12);
    const hs = [hessianOf(inputs(200, k, 1), k), hessianOf(inputs(200, k, 2), k)];
    const all = new Float64Array(groups * k * k);
    hs.forEach((h, g) => all.set(h, g * k * k));
    const layout: GemmLayout = { groups, K: k, N: n, kStride: 1, nStride: k, groupStride: n * k };
    const grid = affineGrid(w, [groups * n, k], { kind: "channel", axis: 0 }, 4, true);
    const together = gptqRounding(all, layout)(w, grid).levels;
    for (let g = 0; g < groups; g++) {
      const part = w.subarray(g * n * k, (g + 1) * n * k);
      const alone = gptqRounding(hs[g]!, transposed(k, n))(part, affineGrid(part, [n, k], { kind: "channel", axis: 0 }, 4, true)).levels;
      expect(Array.from(together.subarray(g * n * k, (g + 1) * n * k)), `group ${g}`).toEqual(Array.from(alone));
    }
  });

  it("keeps pruned (exactly zero) weights at zero while moving error onto the rest", () => {
    const [k, n] = [24, 6];
    const w = seededWeights(k, n, 5);
    for (let e = 0; e < w.length; e += 3) w[e] = 0;
    const x = inputs(300, k, 8);
    const h = hessianOf(x, k);
    for (const [bits, symmetric] of [[4, true], [4, false], [2, true]] as const) {
      const q = quantizeAffine(w, [k, n], { kind: "channel", axis: 1 }, bits, symmetric, gptqRounding(h, matmul(k, n)));
      for (let e = 0; e < w.length; e += 3) expect(q.reconstructed[e], `${bits}-bit element ${e}`).toBe(0);
      const nearest = quantizeAffine(w, [k, n], { kind: "channel", axis: 1 }, bits, symmetric).reconstructed;
      expect(outputError(x, w, q.reconstructed, k, n)).toBeLessThan(outputError(x, w, nearest, k, n));
    }
  });
});
