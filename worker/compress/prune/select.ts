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
  let total = 0;
  for (const u of pool) for (let i = 0; i < u.scores.length; i++) total += sizeOf(u, i);
  const sorted = new Float32Array(pool.reduce((n, u) => n + u.scores.length, 0));
  let at = 0;
  for (const u of pool) {
    sorted.set(u.scores, at);
    at += u.scores.length;
  }
  sorted.sort();
  const sizeAtOrBelow = (t: number) => {
    let s = 0;
    for (const u of pool) for (let i = 0; i < u.scores.length; i++) if (u.scores[i]! <= t) s += sizeOf(u, i);
    return s;
  };
  // Smallest threshold whose units (at or below it) reach the target.
  let lo = 0;
  let hi = sorted.length - 1;
  if (target >= total) lo = hi;
  else {
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sizeAtOrBelow(sorted[mid]!) >= target) hi = mid;
      else lo = mid + 1;
    }
  }
  const threshold = sorted[lo]!;
  let taken = 0;
  pool.forEach((u, p) => {
    for (let i = 0; i < u.scores.length; i++) {
      if (u.scores[i]! < threshold) {
        removed[p]![i] = 1;
        taken += sizeOf(u, i);
      }
    }
  });
  pool.forEach((u, p) => {
    for (let i = 0; i < u.scores.length; i++) {
      if (u.scores[i] !== threshold) continue;
      const size = sizeOf(u, i);
      if (atMost ? taken + size > target : taken + size / 2 >= target) return;
      removed[p]![i] = 1;
      taken += size;
    }
  });
  return removed;
}
