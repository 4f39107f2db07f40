// 2-bit weights: Ternary Weight Networks' rule per group against a plain reference written from the paper (delta =
// 0.7 * mean|w|, scale = mean of |w| > delta); INT2's four levels against a plain search of every clipping ratio and
// sign; and the group layouts DequantizeLinear expects.
import { describe, expect, it } from "vitest";
import { groupLayout, int2Levels, ternarize } from "@worker/compress/quantize/ternary";

/** Plain reference: one group as an array. */
function twn(group: number[]): { t: number[]; scale: number } {
  const delta = (0.7 * group.reduce((a, w) => a + Math.abs(w), 0)) / group.length;
  const big = group.filter((w) => Math.abs(w) > delta);
  const scale = big.length ? big.reduce((a, w) => a + Math.abs(w), 0) / big.length : 1;
  return { t: group.map((w) => (Math.abs(w) > delta ? Math.sign(w) : 0)), scale };
}

function weights(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 2);
}

describe("ternary weights", () => {
  it("follows TWN on a hand-checked group: delta 0.7 * 0.5 = 0.35, scale (0.9 + 0.5 + 0.4) / 3", () => {
    const data = Float32Array.from([0.9, -0.1, 0.5, -0.4, 0.1, 0]);
    const r = ternarize(data, new Int32Array(6), 1);
    expect([...r.levels]).toEqual([1, 0, 1, -1, 0, 0]);
    expect(r.scales[0]).toBeCloseTo(0.6, 6);
    expect(r.reconstructed[3]).toBeCloseTo(-0.6, 6);
  });

  it("matches the plain reference per output channel of a [K=40, N=6] MatMul weight", () => {
    const [K, N] = [40, 6];
    const data = weights(K * N, 3);
    const layout = groupLayout([K, N], 1, 0);
    expect(layout.groups).toBe(N);
    expect(layout.scaleDims).toEqual([N]);
    const r = ternarize(data, layout.ids, layout.groups);
    for (let n = 0; n < N; n++) {
      const ref = twn(Array.from({ length: K }, (_, k) => data[k * N + n]!));
      expect(r.scales[n]).toBeCloseTo(ref.scale, 6);
      for (let k = 0; k < K; k++) expect(r.levels[k * N + n]).toBe(ref.t[k]);
    }
  });

  it("matches the plain reference per block of 16 inputs (last block short) along axis 0 of a [40, 3] weight", () => {
    const [K, N, B] = [40, 3, 16];
    const data = weights(K * N, 9);
    const layout = groupLayout([K, N], 0, B);
    expect(layout.scaleDims).toEqual([3, N]);
    const r = ternarize(data, layout.ids, layout.groups);
    for (let b = 0; b < 3; b++)
      for (let n = 0; n < N; n++) {
        const ks = Array.from({ length: Math.min(B, K - b * B) }, (_, j) => b * B + j);
        const ref = twn(ks.map((k) => data[k * N + n]!));
        // DequantizeLinear's blocked scale layout: [blocks, N], row-major.
        expect(r.scales[b * N + n]).toBeCloseTo(ref.scale, 6);
        ks.forEach((k, j) => expect(r.levels[k * N + n]).toBe(ref.t[j]));
      }
  });

  it("keeps an all-zero group exact: scale 1, levels 0", () => {
    const r = ternarize(new Float32Array(8), new Int32Array(8), 1);
    expect([...r.levels]).toEqual(new Array(8).fill(0));
    expect(r.scales[0]).toBe(1);
  });

  it("lays out per-channel groups of a Conv weight [4, 2, 3, 3] along axis 0", () => {
    const layout = groupLayout([4, 2, 3, 3], 0, 0);
    expect(layout.groups).toBe(4);
    expect([...layout.ids.subarray(0, 19)]).toEqual([...new Array(18).fill(0), 1]);
  });
});

/** Plain reference: the scale of least squared error for levels {-2, -1, 0, 1}, over ratios 0.2..1.2 of max|w| and both signs. */
function int2Reference(group: number[]): { q: number[]; scale: number; error: number } {
  const amax = Math.max(...group.map(Math.abs));
  let best = { q: group.map(() => 0), scale: 1, error: Infinity };
  for (let i = 0; i <= 50; i++)
    for (const sign of [1, -1]) {
      const scale = Math.fround((sign * (0.2 + i * 0.02) * amax) / 2);
      const q = group.map((w) => Math.min(1, Math.max(-2, Math.round(w / scale))) || 0); // -0 is the level 0
      const error = group.reduce((e, w, k) => e + (w - q[k]! * scale) ** 2, 0);
      if (error < best.error) best = { q, scale, error };
    }
  return best;
}

describe("2-bit weights on INT2's four levels", () => {
  it("pick each group's scale and sign of least squared error, as a plain search does", () => {
    const [K, N, B] = [40, 3, 16];
    const data = weights(K * N, 5);
    const layout = groupLayout([K, N], 0, B);
    const r = int2Levels(data, layout.ids, layout.groups);
    let negative = 0;
    for (let b = 0; b < 3; b++)
      for (let n = 0; n < N; n++) {
        const ks = Array.from({ length: Math.min(B, K - b * B) }, (_, j) => b * B + j);
        const ref = int2Reference(ks.map((k) => data[k * N + n]!));
        expect(r.scales[b * N + n]).toBeCloseTo(ref.scale, 6);
        if (ref.scale < 0) negative++;
        ks.forEach((k, j) => expect(r.levels[k * N + n]).toBe(ref.q[j]));
      }
    // Both orientations occur on these weights: the sign is chosen, not fixed.
    expect(negative).toBeGreaterThan(0);
    expect(negative).toBeLessThan(9);
  });

  it("err less than ternary levels on the same groups (uniform weights: by 14%), and keep an all-zero group exact", () => {
    const data = weights(64 * 32, 7);
    const layout = groupLayout([64, 32], 0, 32);
    const sq = (a: Float32Array) => a.reduce((e, v, k) => e + (data[k]! - v) ** 2, 0);
    expect(sq(int2Levels(data, layout.ids, layout.groups).reconstructed)).toBeLessThan(0.9 * sq(ternarize(data, layout.ids, layout.groups).reconstructed));
    const zero = int2Levels(new Float32Array(8), new Int32Array(8), 1);
    expect([...zero.levels]).toEqual(new Array(8).fill(0));
    expect(zero.scales[0]).toBe(1);
  });
});
