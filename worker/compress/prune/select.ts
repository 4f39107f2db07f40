// Threshold selection: which units to remove so that the removed size reaches a target, lowest scores first.
// One pool of layers gives a global threshold; a pool of one layer gives a per-layer threshold.
import type { Units } from "./units";

function sizeOf(u: Units, i: number): number {
  return u.sizes ? u.sizes[i]! : 1;
}

/**
 * Marks (1) the units to remove across `pool` so that their total size is the nearest reachable to `target`
 * (with `atMost`, the largest reachable not above it, as a layer cap needs): every unit scoring below the
 * threshold goes, then units scoring exactly at it in pool order (layer, index), which keeps the choice
 * deterministic on ties. Unit-sized units hit the target exactly.
 */
export function selectLowest(pool: readonly Units[], target: number, atMost = false): Uint8Array[] {
  const removed = pool.map((u) => new Uint8Array(u.scores.length));
  if (target <= 0) return removed;
  const threshold = thresholdFor(pool, target);
  let taken = 0;
  pool.forEach((u, p) => {
    for (let i = 0; i < u.scores.length; i++) {
      if (u.scores[i]! < threshold) {
        removed[p]![i] = 1;
        taken += sizeOf(u, i);
      }
    }
  });
  // Ties in pool order until the first that would not fit (in any layer: a later, smaller unit does not jump the queue).
  ties: for (const [p, u] of pool.entries()) {
    for (let i = 0; i < u.scores.length; i++) {
      if (u.scores[i] !== threshold) continue;
      const size = sizeOf(u, i);
      if (atMost ? taken + size > target : taken + size / 2 >= target) break ties;
      removed[p]![i] = 1;
      taken += size;
    }
  }
  return removed;
}

/** The smallest score whose units (those at or below it) reach `target` in size; the largest score if none does. */
function thresholdFor(pool: readonly Units[], target: number): number {
  const scores = new Float32Array(pool.reduce((n, u) => n + u.scores.length, 0));
  let at = 0;
  for (const u of pool) {
    scores.set(u.scores, at);
    at += u.scores.length;
  }
  // Single weights (the usual case, millions of them): the ceil(target)-th smallest score, found in linear time.
  // A binary search over thresholds that counted the pool at each step took seconds on an 11M-weight model.
  let unitSized = pool.every((u) => !u.sizes);
  for (let i = 0; i < scores.length && unitSized; i++) unitSized = scores[i] === scores[i]; // no NaN
  if (unitSized) return kthSmallest(scores, Math.min(Math.ceil(target), scores.length) - 1);
  // Units of several weights (channels, blocks: thousands at most): walk them in score order, equal scores together.
  const sizes = new Float64Array(scores.length);
  at = 0;
  for (const u of pool) for (let i = 0; i < u.scores.length; i++) sizes[at++] = sizeOf(u, i);
  const order = Uint32Array.from(scores.keys()).sort((a, b) => ascending(scores[a]!, scores[b]!));
  let reached = 0;
  for (let k = 0; k < order.length; k++) {
    reached += sizes[order[k]!]!;
    const score = scores[order[k]!]!;
    const groupEnds = k + 1 === order.length || scores[order[k + 1]!]! !== score;
    if (groupEnds && reached >= target) return score;
  }
  return scores[order[order.length - 1]!]!;
}

/** Float32Array's own order: numbers ascending, NaN last. */
function ascending(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}

/**
 * The k-th smallest (0-based) of NaN-free values, reordering them: quickselect with a median-of-three pivot and a
 * three-way partition (pruned weights repeat 0 many times). An input that keeps the partitions from shrinking falls
 * back to sorting what is left, so no arrangement of weights costs more than a sort.
 */
export function kthSmallest(values: Float32Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  let rounds = 2 * Math.ceil(Math.log2(values.length + 1)) + 8;
  while (hi > lo) {
    if (rounds-- === 0) {
      const rest = values.subarray(lo, hi + 1).sort();
      return rest[k - lo]!;
    }
    const a = values[lo]!;
    const b = values[(lo + hi) >>> 1]!;
    const c = values[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = values[i]!;
      if (v < pivot) {
        values[i++] = values[lt]!;
        values[lt++] = v;
      } else if (v > pivot) {
        values[i] = values[gt]!;
        values[gt--] = v;
      } else i++;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return values[k]!;
}
