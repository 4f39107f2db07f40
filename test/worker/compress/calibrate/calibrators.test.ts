import { describe, expect, it } from "vitest";
import { makeCalibrator } from "@worker/compress/calibrate";
import { entropyThresholdBins } from "@worker/compress/calibrate/entropy";
import { AbsHistogram } from "@worker/compress/calibrate/histogram";
import { rng } from "@test/support/models";

/** Standard normal samples (Box-Muller) from a seed, plus optional outliers. */
function normal(n: number, seed: number, outliers: number[] = []): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n + outliers.length);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  outliers.forEach((v, i) => (out[n + i] = v));
  return out;
}

describe("calibrators", () => {
  it("minmax returns the extremes over every batch", () => {
    const c = makeCalibrator("minmax");
    c.observe(Float32Array.of(-1, 2));
    c.observe(Float32Array.of(0.5, -3));
    expect(c.range()).toEqual({ min: -3, max: 2 });
  });

  it("percentile clips a rare outlier and matches the sorted-sample percentile within one bin", () => {
    const data = normal(100_000, 7, [60]);
    const c = makeCalibrator("percentile", 99.9);
    c.observe(data.subarray(0, 50_000));
    c.observe(data.subarray(50_000));
    const r = c.range();
    const abs = Array.from(data, Math.abs).sort((a, b) => a - b);
    const exact = abs[Math.ceil(0.999 * abs.length) - 1]!;
    expect(r.max).toBeGreaterThan(exact - 60 / 1024);
    expect(r.max).toBeLessThan(exact + 2 * (64 / 2048) + 1e-6);
    expect(r.max).toBeLessThan(10);
  });

  it("percentile keeps min at 0 for a post-ReLU tensor", () => {
    const c = makeCalibrator("percentile", 99);
    c.observe(Float32Array.from(normal(1000, 3), (v) => Math.max(0, v)));
    expect(c.range().min).toBe(0);
  });

  it("entropy picks a threshold well inside an outlier-stretched range and beyond the bulk", () => {
    const c = makeCalibrator("entropy");
    c.observe(normal(200_000, 9, [50, -50]));
    const r = c.range();
    expect(r.max).toBeGreaterThan(2.5);
    expect(r.max).toBeLessThan(20);
    expect(r.min).toBeCloseTo(-r.max, 6);
  });

  it("entropy keeps the whole range of a uniform distribution (no clipping helps)", () => {
    const counts = new Float64Array(2048).fill(10);
    expect(entropyThresholdBins(counts)).toBe(2048);
  });
});

describe("AbsHistogram", () => {
  it("keeps exact counts when its range doubles", () => {
    const h = new AbsHistogram(8);
    h.observe(Float32Array.of(0.1, 0.2, 0.3));
    h.observe(Float32Array.of(5));
    expect(h.total).toBe(4);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(h.limit).toBeGreaterThan(5);
    // 0.3 * 1.0001 doubled five times covers 5 (limit ~9.6): 5 lands in bin 4, the small values in bin 0.
    expect(h.limit).toBeCloseTo(0.30003 * 32, 4);
    expect(h.counts[4]).toBe(1);
    expect(h.counts[0]).toBe(3);
  });
});
