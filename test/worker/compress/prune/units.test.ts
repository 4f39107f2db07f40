import { describe, expect, it } from "vitest";
import { selectLowest } from "@worker/compress/prune/select";
import { applyBlockMask, applyNmMask, blockUnits, elementUnits } from "@worker/compress/prune/units";
import { randomWeights, rng } from "@test/support/models";

const zeros = (w: Float32Array) => w.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);

describe("selectLowest (magnitude threshold)", () => {
  it("removes exactly round(s * n) single weights, the smallest |w| first", () => {
    const w = randomWeights(1000, 10, rng(5));
    for (const s of [0, 0.5, 0.75, 0.9, 0.99]) {
      const [removed] = selectLowest([elementUnits(w)], Math.round(s * w.length));
      const gone = [...removed!.keys()].filter((i) => removed![i]);
      expect(gone.length).toBe(Math.round(s * w.length));
      // Every removed weight is no larger than every kept one (an independent check of the threshold).
      const maxGone = Math.max(0, ...gone.map((i) => Math.abs(w[i]!)));
      const kept = [...removed!.keys()].filter((i) => !removed![i]).map((i) => Math.abs(w[i]!));
      expect(kept.every((k) => k >= maxGone)).toBe(true);
    }
  });

  it("breaks ties in pool order, so the count stays exact", () => {
    const [a, b] = selectLowest([elementUnits(new Float32Array([1, 1, 1])), elementUnits(new Float32Array([1, 1]))], 4);
    expect([...a!, ...b!]).toEqual([1, 1, 1, 1, 0]);
  });

  it("pools layers under one global threshold and keeps per-layer thresholds apart", () => {
    const small = Float32Array.from({ length: 100 }, (_, i) => 0.01 * (i + 1));
    const large = Float32Array.from({ length: 100 }, (_, i) => 10 + i);
    const [gs, gl] = selectLowest([elementUnits(small), elementUnits(large)], 100);
    expect(gs!.reduce((a, b) => a + b, 0)).toBe(100);
    expect(gl!.reduce((a, b) => a + b, 0)).toBe(0);
    const [ps] = selectLowest([elementUnits(small)], 50);
    const [pl] = selectLowest([elementUnits(large)], 50);
    expect(ps!.reduce((a, b) => a + b, 0)).toBe(50);
    expect(pl!.reduce((a, b) => a + b, 0)).toBe(50);
  });
});

describe("N:M masks", () => {
  it("leaves at most n non-zeros in every group of m along the input axis, keeping the largest", () => {
    // MatMul weight [K=8, N=3]: groups run down each column.
    const dims = [8, 3];
    const w = randomWeights(24, 8, rng(9));
    const before = Float32Array.from(w);
    applyNmMask(w, dims, 0, 2, 4);
    for (let col = 0; col < 3; col++) {
      for (let g = 0; g < 8; g += 4) {
        const idx = [0, 1, 2, 3].map((k) => (g + k) * 3 + col);
        expect(idx.filter((i) => w[i] !== 0).length).toBeLessThanOrEqual(2);
        const keptMin = Math.min(...idx.filter((i) => w[i] !== 0).map((i) => Math.abs(before[i]!)));
        const goneMax = Math.max(...idx.filter((i) => w[i] === 0).map((i) => Math.abs(before[i]!)));
        expect(keptMin).toBeGreaterThanOrEqual(goneMax);
      }
    }
    expect(zeros(w)).toBe(12);
  });
});

describe("block masks", () => {
  it("zeroes whole 1x16 blocks (ragged edge included) and reaches the target within one block", () => {
    const dims = [20, 40]; // 40 columns: blocks of 16, 16 and a ragged 8
    const w = randomWeights(800, 20, rng(4));
    const units = blockUnits(w, dims, [1, 16], "l2");
    expect(units.scores.length).toBe(20 * 3);
    const target = Math.round(0.75 * 800);
    const [removed] = selectLowest([units], target);
    applyBlockMask(w, dims, [1, 16], removed!);
    expect(Math.abs(zeros(w) - target)).toBeLessThanOrEqual(16);
    for (let r = 0; r < 20; r++) {
      for (const [start, len] of [[0, 16], [16, 16], [32, 8]] as const) {
        const block = Array.from(w.subarray(r * 40 + start, r * 40 + start + len));
        const z = block.filter((v) => v === 0).length;
        expect(z === 0 || z === len).toBe(true);
      }
    }
  });
});
