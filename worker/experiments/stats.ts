// Statistics for experiment verdicts: Wilson intervals, the two-proportion z-test, and a latency histogram
// with fixed log-spaced buckets (mergeable counts, quantiles by interpolation inside a bucket).

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** Wilson score interval for `successes` out of `n` (null when n = 0). */
export function wilson(successes: number, n: number, z = Z95): [number, number] | null {
  if (n <= 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export interface ProportionTest {
  /** (p1 - p2) / pooled standard error; 0 when the pooled rate is 0 or 1 (no variation). */
  z: number;
  /** Two-sided p-value. */
  p: number;
  difference: number;
}

/** Two-proportion z-test with pooled variance: does x1/n1 differ from x2/n2? */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): ProportionTest {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { z: 0, p: 1, difference: p1 - p2 };
  const z = (p1 - p2) / se;
  return { z, p: 2 * (1 - normalCdf(Math.abs(z))), difference: p1 - p2 };
}

// Latency buckets: upper bounds 0.05 ms * 2^(i/4), i = 0..79 (0.05 ms .. ~29 s, each bucket 19% wide),
// plus one overflow bucket. Fixed bounds make histograms from every isolate add up by index.
const BASE_MS = 0.05;
const PER_OCTAVE = 4;
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: 80 }, (_, i) => BASE_MS * 2 ** (i / PER_OCTAVE));
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

export function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKETS).fill(0);
}

/** Index of the first bucket whose upper bound is >= ms (the last one for overflow). */
export function bucketIndex(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / BASE_MS) * PER_OCTAVE - 1e-9);
  return Math.min(i, LATENCY_BOUNDS_MS.length);
}

export function observe(histogram: number[], ms: number): void {
  const i = bucketIndex(ms);
  histogram[i] = (histogram[i] ?? 0) + 1;
}

/**
 * The q-quantile (0 < q <= 1) estimated from bucket counts: find the bucket holding rank q*n and interpolate
 * geometrically between its bounds (the first bucket's lower bound is 0, linearly). Null when empty.
 */
export function quantile(histogram: readonly number[], q: number): number | null {
  const n = histogram.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = q * n;
  let below = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i]!;
    if (count > 0 && below + count >= rank) {
      const fraction = Math.min(1, Math.max(0, (rank - below) / count));
      const hi = LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)]!;
      if (i === 0) return hi * fraction;
      const lo = LATENCY_BOUNDS_MS[i - 1]!;
      if (i >= LATENCY_BOUNDS_MS.length) return lo; // overflow: all we know is "above the last bound"
      return lo * (hi / lo) ** fraction;
    }
    below += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
