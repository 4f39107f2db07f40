// Seeded test data and error measures for kernel tests (no Node APIs: workerd tests import it too).

/** Seeded uniform values in [-a, a]. */
export function uniform(n: number, seed: number, a = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 * a - a;
  }
  return out;
}

/** Seeded integers in [lo, hi]. */
export function integers(n: number, seed: number, lo: number, hi: number): Int8Array {
  const u = uniform(n, seed, 1);
  return Int8Array.from(u, (v) => Math.min(hi, lo + Math.floor(((v + 1) / 2) * (hi - lo + 1))));
}

/** Largest |a - b| relative to max(1, max|b|). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  if (a.length !== b.length) return Infinity;
  return e / scale;
}

/** Shapes around a tile: below, equal, above and at multiples of it. */
export function tileSizes(tile: number): number[] {
  return [...new Set([1, tile - 1, tile, tile + 1, 2 * tile, 3 * tile + 1].filter((n) => n >= 1))];
}

/**
 * Seeded levels of an asymmetric 4-bit grid, [K, N] row-major: uint4 values less a zero point (0..15) drawn per block
 * of 32 inputs of a column, so each block spans 16 consecutive integers within -15..15.
 */
export function asymmetricLevels(K: number, N: number, seed: number): Int8Array {
  const q = integers(K * N, seed, 0, 15);
  const z = integers(Math.ceil(K / 32) * N, seed + 1, 0, 15);
  return Int8Array.from(q, (v, i) => v - z[Math.floor(Math.floor(i / N) / 32) * N + (i % N)]!);
}
