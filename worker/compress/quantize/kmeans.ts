// One-dimensional k-means for weight sharing (Deep Compression): k-means++ seeding from a seeded generator, then
// Lloyd iterations over the sorted values, where each cluster is a run of the sorted array and its mean comes from
// prefix sums, so an iteration costs O(k log n) whatever the tensor's size.
import { seededRandom } from "../../seeded-random";

/** Values the seeding looks at: k-means++ over quantiles of the data (equal mass each) rather than every weight. */
const SEEDING_SAMPLE = 4096;

export interface Clustering {
  /** Ascending, distinct, each a float32 value: what the codebook stores. At most k; fewer when the data has fewer distinct values. */
  centroids: Float32Array;
  /** Lloyd iterations run (0 when the distinct values were the centroids). */
  iterations: number;
}

/** Index of the first element of `sorted` greater than `x`. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The distinct values of a sorted array, or null once there are more than `k`. */
function distinctUpTo(sorted: Float64Array, k: number): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue;
    if (out.length === k) return null;
    out.push(sorted[i]!);
  }
  return out;
}

/** k-means++ seeds over equal-mass quantiles of the sorted data. */
function seeds(sorted: Float64Array, k: number, random: () => number): number[] {
  const n = sorted.length;
  const m = Math.min(n, SEEDING_SAMPLE);
  const sample = new Float64Array(m);
  for (let j = 0; j < m; j++) sample[j] = sorted[Math.min(n - 1, Math.floor(((j + 0.5) * n) / m))]!;
  const chosen = [sample[Math.min(m - 1, Math.floor(random() * m))]!];
  const d2 = new Float64Array(m);
  for (let j = 0; j < m; j++) d2[j] = (sample[j]! - chosen[0]!) ** 2;
  while (chosen.length < k) {
    let total = 0;
    for (let j = 0; j < m; j++) total += d2[j]!;
    if (total === 0) break; // every sample point is already a centroid
    let target = random() * total;
    let pick = m - 1;
    for (let j = 0; j < m; j++) {
      target -= d2[j]!;
      if (target < 0) {
        pick = j;
        break;
      }
    }
    const c = sample[pick]!;
    chosen.push(c);
    for (let j = 0; j < m; j++) d2[j] = Math.min(d2[j]!, (sample[j]! - c) ** 2);
  }
  return chosen;
}

/** k-means++ restarts per codebook: Lloyd's local optimum depends on the seeds, and each start is cheap. */
const RESTARTS = 4;

/**
 * At most `k` centroids minimising the squared error of `values` (any order; not modified): the best of a few
 * k-means++ starts (from `seed`), each refined by at most `maxIterations` Lloyd steps, stopping once no value changes
 * cluster. Data with at most k distinct values gets those values exactly.
 */
export function kmeans1d(values: ArrayLike<number>, k: number, seed: number, maxIterations: number): Clustering {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, not ${k}`);
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { centroids: new Float32Array(0), iterations: 0 };
  const distinct = distinctUpTo(sorted, k);
  if (distinct) return { centroids: Float32Array.from(distinct), iterations: 0 };
  const n = sorted.length;
  const prefix = new Float64Array(n + 1);
  const squares = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    prefix[i + 1] = prefix[i]! + sorted[i]!;
    squares[i + 1] = squares[i]! + sorted[i]! * sorted[i]!;
  }
  const random = seededRandom(seed);
  // Deep Compression's linear start (evenly spaced over [min, max], which keeps the rare large weights represented)
  // competes with the k-means++ starts; the lowest squared error wins.
  const lo = sorted[0]!;
  const hi = sorted[n - 1]!;
  const linear = Array.from({ length: k }, (_, j) => lo + ((hi - lo) * j) / (k - 1));
  let best = lloyd(sorted, prefix, squares, linear, maxIterations);
  for (let start = 0; start < RESTARTS; start++) {
    const run = lloyd(sorted, prefix, squares, [...new Set(seeds(sorted, k, random))].sort((a, b) => a - b), maxIterations);
    if (run.error < best.error) best = run;
  }
  const stored = [...new Set(best.centroids.map((c) => Math.fround(c)))].sort((a, b) => a - b);
  return { centroids: Float32Array.from(stored), iterations: best.iterations };
}

/** Lloyd steps from `initial` (ascending) over sorted values with their prefix sums; the clusters' squared error. */
function lloyd(sorted: Float64Array, prefix: Float64Array, squares: Float64Array, initial: number[], maxIterations: number) {
  const n = sorted.length;
  let centroids = initial;
  let bounds: number[] = [];
  let iterations = 0;
  const partition = () => {
    // Cluster j holds sorted[starts[j] .. starts[j+1]): values up to the midpoint go to the lower centroid.
    const starts = [0];
    for (let j = 0; j + 1 < centroids.length; j++) starts.push(upperBound(sorted, (centroids[j]! + centroids[j + 1]!) / 2));
    starts.push(n);
    return starts;
  };
  for (; iterations < maxIterations; iterations++) {
    const starts = partition();
    if (starts.length === bounds.length && starts.every((s, j) => s === bounds[j])) break;
    bounds = starts;
    // An empty cluster keeps its centroid (it may take values again once its neighbours move).
    centroids = centroids.map((c, j) => {
      const lo = starts[j]!;
      const hi = starts[j + 1]!;
      return hi > lo ? (prefix[hi]! - prefix[lo]!) / (hi - lo) : c;
    });
  }
  const starts = partition();
  let error = 0;
  for (let j = 0; j < centroids.length; j++) {
    const lo = starts[j]!;
    const hi = starts[j + 1]!;
    if (hi > lo) error += squares[hi]! - squares[lo]! - 2 * centroids[j]! * (prefix[hi]! - prefix[lo]!) + (hi - lo) * centroids[j]! ** 2;
  }
  return { centroids, iterations, error };
}

/**
 * The index of the nearest centroid for each value (ties to the lower index), centroids ascending: a binary search
 * over the midpoints, O(n log k).
 */
export function assignNearest(values: ArrayLike<number>, centroids: Float32Array, out: Uint8Array = new Uint8Array(values.length)): Uint8Array {
  if (centroids.length > 256) throw new RangeError(`${centroids.length} centroids do not fit uint8 indices`);
  const mids = new Float64Array(Math.max(0, centroids.length - 1));
  for (let j = 0; j < mids.length; j++) mids[j] = (centroids[j]! + centroids[j + 1]!) / 2;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let lo = 0;
    let hi = mids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (mids[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}
