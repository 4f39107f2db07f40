import { describe, expect, it } from "vitest";
import { bucketIndex, emptyHistogram, LATENCY_BOUNDS_MS, normalCdf, observe, quantile, twoProportionTest, wilson } from "@worker/experiments/stats";

describe("wilson", () => {
  // Reference values worked by hand from the Wilson score formula with z = 1.96.
  it("gives z²/(n+z²) as the upper bound of 0 successes in 10", () => {
    const [lo, hi] = wilson(0, 10)!;
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(3.841459 / 13.841459, 6); // 0.27753
  });

  it("is symmetric around one half for 5 of 10 and 50 of 100", () => {
    const [lo, hi] = wilson(5, 10)!;
    expect(lo).toBeCloseTo(0.236593, 5);
    expect(hi).toBeCloseTo(0.763407, 5);
    const [lo2, hi2] = wilson(50, 100)!;
    expect(lo2).toBeCloseTo(0.403832, 5);
    expect(hi2).toBeCloseTo(0.596168, 5);
  });

  it("has no interval without observations", () => {
    expect(wilson(0, 0)).toBeNull();
  });
});

describe("normalCdf and the two-proportion test", () => {
  it("matches the standard normal table", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  });

  it("finds 60/100 vs 40/100 significant (z = 2.828, p = 0.00468)", () => {
    const t = twoProportionTest(60, 100, 40, 100);
    expect(t.z).toBeCloseTo(2.828427, 5);
    expect(t.p).toBeCloseTo(0.004678, 5);
    expect(t.difference).toBeCloseTo(0.2, 12);
  });

  it("reports no difference when neither side varies", () => {
    expect(twoProportionTest(0, 50, 0, 80)).toEqual({ z: 0, p: 1, difference: 0 });
  });
});

describe("latency histogram", () => {
  it("puts a value in the first bucket whose upper bound holds it", () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(0.05)).toBe(0);
    expect(bucketIndex(0.0501)).toBe(1);
    for (const i of [3, 17, 40, 79]) {
      expect(bucketIndex(LATENCY_BOUNDS_MS[i]!)).toBe(i);
      expect(bucketIndex(LATENCY_BOUNDS_MS[i]! * 1.0001)).toBe(i + 1);
    }
    expect(bucketIndex(1e9)).toBe(LATENCY_BOUNDS_MS.length);
  });

  it("estimates quantiles of 1..1000 ms within one bucket's width (19%)", () => {
    const h = emptyHistogram();
    for (let ms = 1; ms <= 1000; ms++) observe(h, ms);
    for (const [q, exact] of [[0.5, 500], [0.95, 950], [0.99, 990]] as const) {
      const est = quantile(h, q)!;
      expect(Math.abs(est - exact) / exact).toBeLessThan(0.19);
    }
  });

  it("keeps a constant latency inside its bucket and has no quantile when empty", () => {
    const h = emptyHistogram();
    for (let i = 0; i < 10; i++) observe(h, 3);
    const i = bucketIndex(3);
    const p99 = quantile(h, 0.99)!;
    expect(p99).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
    expect(p99).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
    expect(quantile(emptyHistogram(), 0.5)).toBeNull();
  });
});
