// Percentile calibration: clip |x| at the given percentile of its distribution (from the histogram), keeping
// the observed sign range (a post-ReLU tensor keeps min 0).
import type { Calibrator } from "./calibrator";
import { AbsHistogram } from "./histogram";

export function percentileCalibrator(percentile: number): Calibrator {
  const h = new AbsHistogram();
  return {
    observe: (values) => h.observe(values),
    range() {
      if (h.total === 0) return { min: 0, max: 0 };
      const wanted = (percentile / 100) * h.total;
      let cum = 0;
      let threshold = h.limit;
      for (let i = 0; i < h.bins; i++) {
        cum += h.counts[i]!;
        if (cum >= wanted) {
          threshold = (i + 1) * h.binWidth;
          break;
        }
      }
      return { min: Math.max(h.min, -threshold), max: Math.min(h.max, threshold) };
    },
  };
}
