// Confidence intervals for what an evaluation measures on a finite dataset: the paired accuracy drop (the same samples
// through both models) and the top-1 agreement, and the smallest figures a dataset of n samples can establish at all.

import { wilson } from "../experiments/stats";

/** Two-sided confidence level used when none is given. */
export const DEFAULT_CONFIDENCE = 0.95;

/** A closed interval [low, high]. */
export type Interval = [number, number];

// Acklam's rational approximation of the standard normal quantile (relative error below 1.2e-9).
const A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

/** The standard normal quantile: x with P(Z <= x) = p, for 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) / ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) / (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1);
}

/** The z of a two-sided interval at `confidence` (1.96 at 0.95). */
export function twoSidedZ(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** Paired outcomes of n samples: how many only the reference got right, and how many only the variant got right. */
export interface PairedCounts {
  n: number;
  refOnly: number;
  variantOnly: number;
}

/**
 * The accuracy drop (reference minus variant, in percentage points) with its interval, by Bonett and Price's adjusted
 * Wald interval for a difference of paired proportions (one added to each discordant count, two to n): unlike the
 * plain Wald interval it keeps its coverage when few samples disagree, and it never collapses to a point.
 */
export function pairedDropInterval({ n, refOnly, variantOnly }: PairedCounts, confidence = DEFAULT_CONFIDENCE): Interval {
  const z = twoSidedZ(confidence);
  const p12 = (refOnly + 1) / (n + 2);
  const p21 = (variantOnly + 1) / (n + 2);
  const diff = p12 - p21;
  const se = Math.sqrt(Math.max(0, p12 + p21 - diff * diff) / (n + 2));
  return [100 * Math.max(-1, diff - z * se), 100 * Math.min(1, diff + z * se)];
}

/** Wilson's score interval for a proportion of `successes` in n (the agreement of two models' top-1); [0, 1] for none. */
export function proportionInterval(successes: number, n: number, confidence = DEFAULT_CONFIDENCE): Interval {
  return wilson(successes, n, twoSidedZ(confidence)) ?? [0, 1];
}

/** The lowest upper bound on the drop that n samples can give (no sample in disagreement), in points. */
export function smallestProvableDrop(n: number, confidence = DEFAULT_CONFIDENCE): number {
  return pairedDropInterval({ n, refOnly: 0, variantOnly: 0 }, confidence)[1];
}

/** The highest lower bound on the agreement that n samples can give (all of them agreeing). */
export function largestProvableAgreement(n: number, confidence = DEFAULT_CONFIDENCE): number {
  return proportionInterval(n, n, confidence)[0];
}
