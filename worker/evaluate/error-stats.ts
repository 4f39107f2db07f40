// Comparison metrics between a reference (fp32) output and a compressed model's output: top-1 accuracy and
// agreement over rows of logits, cosine similarity, max abs error and SQNR. Pure, accumulated batch by batch.

/** Index of the largest value in each row of a [rows, cols] tensor. */
export function argmaxRows(data: Float32Array, cols: number): Int32Array {
  const rows = data.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Running cosine, max abs error and SQNR of `got` against `ref` over any number of batches. */
export class ErrorStats {
  private dot = 0;
  private refSq = 0;
  private gotSq = 0;
  private noise = 0;
  maxAbsError = 0;

  add(ref: Float32Array, got: Float32Array): void {
    for (let i = 0; i < ref.length; i++) {
      const a = ref[i]!;
      const b = got[i]!;
      const e = a - b;
      this.dot += a * b;
      this.refSq += a * a;
      this.gotSq += b * b;
      this.noise += e * e;
      const ae = Math.abs(e);
      if (ae > this.maxAbsError) this.maxAbsError = ae;
    }
  }

  get cosine(): number {
    if (this.refSq === 0 && this.gotSq === 0) return 1;
    if (this.refSq === 0 || this.gotSq === 0) return 0;
    return this.dot / Math.sqrt(this.refSq * this.gotSq);
  }

  /** dB; null when exact. */
  get sqnrDb(): number | null {
    if (this.noise === 0) return null;
    return 10 * Math.log10(this.refSq / this.noise);
  }
}

/** Top-1 counts: the reference's and the candidate's correct answers, and where they agree. */
export class TopOne {
  refCorrect = 0;
  gotCorrect = 0;
  agree = 0;
  rows = 0;
  /** Discordant pairs: rows only the reference got right, and rows only the variant got right. */
  refOnly = 0;
  variantOnly = 0;

  add(ref: Float32Array, got: Float32Array, cols: number, labels: ((row: number) => number) | null): void {
    const a = argmaxRows(ref, cols);
    const b = argmaxRows(got, cols);
    for (let r = 0; r < a.length; r++) {
      if (a[r] === b[r]) this.agree++;
      if (labels) {
        const y = labels(r);
        const refRight = a[r] === y;
        const gotRight = b[r] === y;
        if (refRight) this.refCorrect++;
        if (gotRight) this.gotCorrect++;
        if (refRight && !gotRight) this.refOnly++;
        if (gotRight && !refRight) this.variantOnly++;
      }
    }
    this.rows += a.length;
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
