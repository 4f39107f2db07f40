// MinMax calibration: the range is the smallest and largest value ever observed.
import type { Calibrator } from "./calibrator";

export function minmaxCalibrator(): Calibrator {
  let min = Infinity;
  let max = -Infinity;
  return {
    observe(values) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    },
    range: () => (min <= max ? { min, max } : { min: 0, max: 0 }),
  };
}
