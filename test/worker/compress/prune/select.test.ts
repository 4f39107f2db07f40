import { describe, expect, it } from "vitest";
import { kthSmallest, selectLowest } from "@worker/compress/prune/select";
import type { Units } from "@worker/compress/prune/units";
import { rng } from "@test/support/models";

/** The threshold by definition: the smallest score whose units at or below it reach the target (all scores sorted). */
function referenceThreshold(pool: Units[], target: number): number {
  const all = pool.flatMap((u) => [...u.scores].map((s, i) => [s, u.sizes ? u.sizes[i]! : 1] as const)).sort((a, b) => a[0] - b[0]);
  for (const [t] of all) if (all.reduce((n, [s, size]) => n + (s <= t ? size : 0), 0) >= target) return t;
  return all[all.length - 1]![0];
}

/** What selectLowest must remove for a threshold: all below it, then those at it in pool order up to the target. */
function referenceRemoved(pool: Units[], target: number, atMost = false): number[][] {
  const t = referenceThreshold(pool, target);
  const removed = pool.map((u) => [...u.scores].map((s): number => (s < t ? 1 : 0)));
  let taken = pool.reduce((n, u, p) => n + removed[p]!.reduce((m, r, i) => m + (r ? (u.sizes ? u.sizes[i]! : 1) : 0), 0), 0);
  for (const [p, u] of pool.entries()) {
    for (let i = 0; i < u.scores.length; i++) {
      if (u.scores[i] !== t) continue;
      const size = u.sizes ? u.sizes[i]! : 1;
      if (atMost ? taken + size > target : taken + size / 2 >= target) return removed;
      removed[p]![i] = 1;
      taken += size;
    }
  }
  return removed;
}

const orders: Record<string, (n: number, r: () => number) => Float32Array> = {
  random: (n, r) => Float32Array.from({ length: n }, () => r()),
  "few distinct values": (n, r) => Float32Array.from({ length: n }, () => Math.floor(r() * 4) / 4),
  "mostly zeros (pruned before)": (n, r) => Float32Array.from({ length: n }, () => (r() < 0.8 ? 0 : r())),
  ascending: (n) => Float32Array.from({ length: n }, (_, i) => i),
  descending: (n) => Float32Array.from({ length: n }, (_, i) => n - i),
  "all equal": (n) => new Float32Array(n).fill(0.5),
  "organ pipe": (n) => Float32Array.from({ length: n }, (_, i) => Math.min(i, n - 1 - i)),
};

describe("kthSmallest (quickselect)", () => {
  for (const [name, make] of Object.entries(orders)) {
    it(`gives the k-th value of the sorted array: ${name}`, () => {
      const r = rng(11);
      for (const n of [1, 2, 3, 17, 1000]) {
        const values = make(n, r);
        const sorted = Float32Array.from(values).sort();
        for (const k of new Set([0, 1, n >> 1, n - 2, n - 1].filter((k) => k >= 0 && k < n))) {
          expect(kthSmallest(Float32Array.from(values), k)).toBe(sorted[k]);
        }
      }
    });
  }
});

describe("selectLowest's threshold against its definition", () => {
  it("single weights, pooled over layers, at every target", () => {
    const r = rng(3);
    const pool = [orders.random!(300, r), orders["mostly zeros (pruned before)"]!(200, r), orders["few distinct values"]!(100, r)].map((scores) => ({ scores, sizes: null }));
    for (const target of [1, 7, 150.5, 300, 599, 600, 700]) {
      expect(selectLowest(pool, target).map((x) => [...x])).toEqual(referenceRemoved(pool, target));
      expect(selectLowest(pool, target, true).map((x) => [...x])).toEqual(referenceRemoved(pool, target, true));
    }
  });

  it("units of several weights (channels), ties included", () => {
    const r = rng(8);
    const pool: Units[] = [0, 1].map(() => ({
      scores: Float32Array.from({ length: 40 }, () => Math.floor(r() * 10)),
      sizes: Float64Array.from({ length: 40 }, () => 1 + Math.floor(r() * 9)),
    }));
    const total = pool.reduce((n, u) => n + u.sizes!.reduce((a, b) => a + b, 0), 0);
    for (const target of [1, 10, total / 3, total / 2, total - 1, total, total + 5]) {
      expect(selectLowest(pool, target).map((x) => [...x])).toEqual(referenceRemoved(pool, target));
      expect(selectLowest(pool, target, true).map((x) => [...x])).toEqual(referenceRemoved(pool, target, true));
    }
  });
});
