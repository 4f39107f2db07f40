// Entropy calibration (TensorRT-style): choose the |x| threshold whose 128-level quantized distribution has the
// smallest KL divergence from the observed one, outliers folded into the last kept bin.
import type { Calibrator } from "./calibrator";
import { AbsHistogram } from "./histogram";

const LEVELS = 128;

/** KL(P || Q) over bins where P > 0; P and Q are unnormalised counts. */
function klDivergence(p: Float64Array, q: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  if (sp === 0 || sq === 0) return Infinity;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    if (pi === 0) continue;
    const qi = q[i]! / sq;
    if (qi === 0) return Infinity;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/** The threshold bin count (in [LEVELS, bins]) minimising KL; exported for tests. */
export function entropyThresholdBins(counts: Float64Array): number {
  const bins = counts.length;
  let best = bins;
  let bestKl = Infinity;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let t = LEVELS; t <= bins; t++) {
    // Reference: the first t bins, everything beyond clipped into bin t-1.
    let outliers = 0;
    for (let i = t; i < bins; i++) outliers += counts[i]!;
    for (let i = 0; i < t; i++) p[i] = counts[i]!;
    p[t - 1]! += outliers;
    // Candidate: t bins merged into LEVELS levels, each level spread evenly over its non-empty bins.
    q.fill(0, 0, t);
    const per = t / LEVELS;
    for (let level = 0; level < LEVELS; level++) {
      const start = Math.floor(level * per);
      const end = level === LEVELS - 1 ? t : Math.floor((level + 1) * per);
      let sum = 0;
      let nonEmpty = 0;
      for (let i = start; i < end; i++) {
        sum += counts[i]!;
        if (counts[i]! > 0) nonEmpty++;
      }
      if (nonEmpty === 0) continue;
      for (let i = start; i < end; i++) if (counts[i]! > 0) q[i] = sum / nonEmpty;
    }
    const kl = klDivergence(p.subarray(0, t), q.subarray(0, t));
    if (kl < bestKl) {
      bestKl = kl;
      best = t;
    }
  }
  return best;
}

export function entropyCalibrator(): Calibrator {
  const h = new AbsHistogram();
  return {
    observe: (values) => h.observe(values),
    range() {
      if (h.total === 0 || h.limit === 0) return { min: 0, max: 0 };
      const threshold = entropyThresholdBins(h.counts) * h.binWidth;
      return { min: Math.max(h.min, -threshold), max: Math.min(h.max, threshold) };
    },
  };
}
