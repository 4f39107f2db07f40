// The evaluation's confidence intervals: the normal quantile against printed tables, and the paired drop and agreement
// intervals against a plain percentile bootstrap of synthetic predictions, with their coverage by simulation.
import { describe, expect, it } from "vitest";
import {
  largestProvableAgreement,
  normalQuantile,
  pairedDropInterval,
  proportionInterval,
  smallestProvableDrop,
  twoSidedZ,
} from "@worker/evaluate/intervals";
import { rng as seeded } from "@test/support/models";

/** n samples of (reference right, variant right): a share pRef of the reference right, then flips either way. */
function predictions(n: number, pRef: number, pLose: number, pGain: number, random: () => number): { ref: boolean; got: boolean }[] {
  return Array.from({ length: n }, () => {
    const ref = random() < pRef;
    const u = random();
    const got = ref ? u >= pLose / pRef : u < pGain / (1 - pRef);
    return { ref, got };
  });
}

function counts(rows: { ref: boolean; got: boolean }[]) {
  return {
    n: rows.length,
    refOnly: rows.filter((r) => r.ref && !r.got).length,
    variantOnly: rows.filter((r) => r.got && !r.ref).length,
  };
}

/** Percentile bootstrap of a statistic over resampled rows (the plain reference the closed forms are checked against). */
function bootstrap<T>(rows: T[], statistic: (sample: T[]) => number, resamples: number, random: () => number, confidence = 0.95): [number, number] {
  const values: number[] = [];
  const sample = new Array<T>(rows.length);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < rows.length; i++) sample[i] = rows[Math.floor(random() * rows.length)]!;
    values.push(statistic(sample));
  }
  values.sort((x, y) => x - y);
  const tail = (1 - confidence) / 2;
  return [values[Math.floor(tail * resamples)]!, values[Math.ceil((1 - tail) * resamples) - 1]!];
}

describe("normal quantiles", () => {
  it("match the printed tables to 1e-6", () => {
    expect(twoSidedZ(0.95)).toBeCloseTo(1.959964, 6);
    expect(twoSidedZ(0.99)).toBeCloseTo(2.575829, 6);
    expect(twoSidedZ(0.9)).toBeCloseTo(1.644854, 6);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 6);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 6);
  });

  it("refuses probabilities outside (0, 1)", () => {
    for (const p of [0, 1, -0.1, Number.NaN]) expect(() => normalQuantile(p)).toThrow(RangeError);
  });
});

describe("paired accuracy-drop interval", () => {
  it("agrees with a percentile bootstrap of synthetic predictions to within 0.15 points at each end", () => {
    const random = seeded(7);
    for (const [pLose, pGain] of [[0.02, 0.01], [0.004, 0.004], [0.05, 0.005]] as const) {
      const rows = predictions(2000, 0.9, pLose, pGain, random);
      const mine = pairedDropInterval(counts(rows));
      const drop = (s: typeof rows) => (100 * s.reduce((a, r) => a + Number(r.ref) - Number(r.got), 0)) / s.length;
      const boot = bootstrap(rows, drop, 4000, random);
      expect(Math.abs(mine[0] - boot[0]), `low end for flips ${pLose}/${pGain}`).toBeLessThanOrEqual(0.15);
      expect(Math.abs(mine[1] - boot[1]), `high end for flips ${pLose}/${pGain}`).toBeLessThanOrEqual(0.15);
    }
  });

  it("covers the true drop in at least 93% of 1000 simulated datasets of 500 samples at 95%", () => {
    const random = seeded(11);
    const trueDrop = 100 * (0.012 - 0.004);
    let covered = 0;
    for (let k = 0; k < 1000; k++) {
      const [lo, hi] = pairedDropInterval(counts(predictions(500, 0.9, 0.012, 0.004, random)));
      if (lo <= trueDrop && trueDrop <= hi) covered++;
    }
    expect(covered / 1000).toBeGreaterThanOrEqual(0.93);
  });

  it("keeps a width when no sample disagrees, and narrows as samples grow", () => {
    const [lo, hi] = pairedDropInterval({ n: 500, refOnly: 0, variantOnly: 0 });
    expect(lo).toBeLessThan(0);
    expect(hi).toBeGreaterThan(0.5);
    expect(smallestProvableDrop(500)).toBeCloseTo(hi, 12);
    expect(smallestProvableDrop(10000)).toBeLessThan(smallestProvableDrop(1000));
    expect(smallestProvableDrop(1000, 0.9)).toBeLessThan(smallestProvableDrop(1000, 0.99));
  });

  it("stays within [-100, 100] points", () => {
    const [lo, hi] = pairedDropInterval({ n: 3, refOnly: 3, variantOnly: 0 });
    expect(lo).toBeGreaterThanOrEqual(-100);
    expect(hi).toBeLessThanOrEqual(100);
  });
});

describe("agreement interval", () => {
  it("agrees with a percentile bootstrap to within 0.004 at each end", () => {
    const random = seeded(3);
    for (const p of [0.97, 0.9, 0.995]) {
      const rows = Array.from({ length: 2000 }, () => random() < p);
      const agree = rows.filter(Boolean).length;
      const mine = proportionInterval(agree, rows.length);
      const boot = bootstrap(rows, (s) => s.filter(Boolean).length / s.length, 4000, random);
      expect(Math.abs(mine[0] - boot[0]), `low end at ${p}`).toBeLessThanOrEqual(0.004);
      expect(Math.abs(mine[1] - boot[1]), `high end at ${p}`).toBeLessThanOrEqual(0.004);
    }
  });

  it("has a lower bound below 1 when every sample agrees", () => {
    expect(largestProvableAgreement(100)).toBeLessThan(0.97);
    expect(largestProvableAgreement(100)).toBeGreaterThan(0.95);
    expect(proportionInterval(100, 100)[1]).toBe(1);
    expect(proportionInterval(0, 0)).toEqual([0, 1]);
  });
});
