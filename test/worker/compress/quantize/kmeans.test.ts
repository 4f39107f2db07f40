// One-dimensional k-means for weight sharing: k-means++ seeds and Lloyd steps over sorted values, checked against
// brute-force nearest assignment and the optimal clustering found by dynamic programming (a plain reference).
import { describe, expect, it } from "vitest";
import { assignNearest, kmeans1d } from "@worker/compress/quantize/kmeans";
import { rng } from "@test/support/models";

/** Sum of squared distances to the nearest centroid, by brute force. */
function sse(values: ArrayLike<number>, centroids: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    let best = Infinity;
    for (let j = 0; j < centroids.length; j++) best = Math.min(best, (values[i]! - centroids[j]!) ** 2);
    total += best;
  }
  return total;
}

/** The least squared error of any k clusters of `values` (O(k n^2) dynamic programming over the sorted values). */
function optimalSse(values: ArrayLike<number>, k: number): number {
  const x = Float64Array.from(values).sort();
  const n = x.length;
  const s = new Float64Array(n + 1);
  const q = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    s[i + 1] = s[i]! + x[i]!;
    q[i + 1] = q[i]! + x[i]! * x[i]!;
  }
  const cost = (a: number, b: number) => q[b]! - q[a]! - (s[b]! - s[a]!) ** 2 / (b - a);
  let prev = Float64Array.from({ length: n + 1 }, (_, b) => (b === 0 ? 0 : cost(0, b)));
  for (let c = 2; c <= k; c++) {
    const next = new Float64Array(n + 1).fill(Infinity);
    next[0] = 0;
    for (let b = 1; b <= n; b++) for (let a = 0; a < b; a++) next[b] = Math.min(next[b]!, prev[a]! + cost(a, b));
    prev = next;
  }
  return prev[n]!;
}

function gaussianish(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => (next() + next() + next() - 1.5) * 0.2);
}

describe("kmeans1d", () => {
  it("returns the data's own values when it has no more distinct values than k", () => {
    const r = kmeans1d([0.5, -1, 0.5, 2, -1], 4, 0, 10);
    expect(Array.from(r.centroids)).toEqual([-1, 0.5, 2]);
  });

  it("comes within 10% of the optimal squared error on bell-shaped weights (Lloyd stops at a local optimum: measured 0.04%, 0.4% and 8.4% above it)", () => {
    for (const [n, k, seed] of [[300, 4, 1], [300, 8, 2], [250, 16, 3]] as const) {
      const values = gaussianish(n, seed);
      const { centroids } = kmeans1d(values, k, seed, 200);
      expect(centroids.length).toBe(k);
      expect(sse(values, centroids)).toBeLessThanOrEqual(optimalSse(values, k) * 1.1);
    }
  });

  it("ends at a Lloyd fixed point: each centroid is the mean of the values nearest to it", () => {
    const values = gaussianish(5000, 4);
    const { centroids } = kmeans1d(values, 16, 0, 1000);
    const sums = new Float64Array(16);
    const counts = new Float64Array(16);
    for (const v of values) {
      let best = 0;
      for (let j = 1; j < centroids.length; j++) if (Math.abs(v - centroids[j]!) < Math.abs(v - centroids[best]!)) best = j;
      sums[best]! += v;
      counts[best]!++;
    }
    for (let j = 0; j < 16; j++) {
      expect(counts[j]).toBeGreaterThan(0);
      expect(Math.abs(sums[j]! / counts[j]! - centroids[j]!)).toBeLessThan(1e-6);
    }
  });

  it("gives the same centroids for the same seed, in ascending order", () => {
    const values = gaussianish(20000, 5);
    const a = kmeans1d(values, 32, 7, 50);
    const b = kmeans1d(values, 32, 7, 50);
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    for (let j = 1; j < a.centroids.length; j++) expect(a.centroids[j]!).toBeGreaterThan(a.centroids[j - 1]!);
  });

  it("stops at the iteration bound", () => {
    expect(kmeans1d(gaussianish(2000, 6), 16, 0, 1).iterations).toBe(1);
  });
});

describe("assignNearest", () => {
  it("picks the nearest centroid, the lower one on a tie", () => {
    const centroids = Float32Array.from([-1, 0, 2]);
    expect(Array.from(assignNearest([-5, -0.5, -0.49, 1, 1.01, 9], centroids))).toEqual([0, 0, 1, 1, 2, 2]);
    const values = gaussianish(1000, 8);
    const { centroids: c } = kmeans1d(values, 8, 1, 20);
    const got = assignNearest(values, c);
    values.forEach((v, i) => {
      const d = Math.abs(v - c[got[i]!]!);
      for (const x of c) expect(d).toBeLessThanOrEqual(Math.abs(v - x));
    });
  });
});
