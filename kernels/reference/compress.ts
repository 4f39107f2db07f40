// Scalar references of the compression math kernels (kernels/src/compress.c).
import { roundHalfEven } from "./qs8_gemm";

export function refAbsmaxRows(rows: number, cols: number, X: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r] = Math.max(out[r]!, Math.abs(X[r * cols + c]!));
  return out;
}

export function refAbsmaxCols(rows: number, cols: number, X: ArrayLike<number>): Float32Array {
  const out = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] = Math.max(out[c]!, Math.abs(X[r * cols + c]!));
  return out;
}

/** [min, max] per row (perCol false) or per column, interleaved. */
export function refMinmax(rows: number, cols: number, X: ArrayLike<number>, perCol: boolean): Float32Array {
  const n = perCol ? cols : rows;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = Infinity;
    out[2 * i + 1] = -Infinity;
  }
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = perCol ? c : r;
      out[2 * i] = Math.min(out[2 * i]!, X[r * cols + c]!);
      out[2 * i + 1] = Math.max(out[2 * i + 1]!, X[r * cols + c]!);
    }
  return out;
}

export function refQuantizeRoundClamp(
  rows: number, cols: number, X: ArrayLike<number>, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>,
  perCol: boolean, qmin: number, qmax: number,
): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = perCol ? c : r;
      const s = scales[i]!;
      const q = zeroPoints[i]! + (s !== 0 ? roundHalfEven(Math.fround(X[r * cols + c]! / s)) : 0);
      out[r * cols + c] = Math.min(qmax, Math.max(qmin, q));
    }
  return out;
}

export function refPackInt4(q: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1]! |= (q[i]! & 15) << (i % 2 ? 4 : 0);
  return out;
}

export function refPackSignBits(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(x.length / 8));
  for (let i = 0; i < x.length; i++) if (x[i]! >= 0) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function refHistogram(x: ArrayLike<number>, lo: number, hi: number, bins: number): Uint32Array {
  const counts = new Uint32Array(bins);
  const width = Math.fround(Math.fround(hi - lo) / bins);
  for (let i = 0; i < x.length; i++) {
    let b = width > 0 ? Math.trunc(Math.fround(Math.fround(x[i]! - lo) / width)) : 0;
    b = Math.max(0, Math.min(bins - 1, b));
    counts[b]! += 1;
  }
  return counts;
}

/** The k-th smallest |x| (0-based). */
export function refMagnitudeThreshold(x: ArrayLike<number>, k: number): number {
  return Float32Array.from(x, Math.abs).sort()[k]!;
}
