// A histogram of |x| over [0, limit) with a fixed bin count whose limit doubles (merging bins pairwise, so
// counts stay exact) when a larger value arrives: one pass over the calibration data, bounded memory.

export class AbsHistogram {
  readonly counts: Float64Array;
  limit = 0;
  min = Infinity;
  max = -Infinity;
  total = 0;

  constructor(readonly bins = 2048) {
    this.counts = new Float64Array(bins);
  }

  get binWidth(): number {
    return this.limit / this.bins;
  }

  observe(values: Float32Array): void {
    let absmax = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      const a = v < 0 ? -v : v;
      if (a > absmax) absmax = a;
    }
    if (absmax === 0 && this.limit === 0) {
      this.counts[0]! += values.length;
      this.total += values.length;
      return;
    }
    if (this.limit === 0) this.limit = absmax * 1.0001;
    while (absmax >= this.limit) this.grow();
    const scale = this.bins / this.limit;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      this.counts[Math.min(this.bins - 1, Math.floor(a * scale))]! += 1;
    }
    this.total += values.length;
  }

  /** Doubles the covered range: bin 2k and 2k+1 merge into bin k. */
  private grow(): void {
    const half = this.bins / 2;
    for (let k = 0; k < half; k++) this.counts[k] = this.counts[2 * k]! + this.counts[2 * k + 1]!;
    this.counts.fill(0, half);
    this.limit *= 2;
  }
}
