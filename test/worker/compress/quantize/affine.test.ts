// Affine weight quantization (per tensor, per channel, blocks; symmetric and with zero points) against a plain
// reference that walks coordinates, and the error bound every in-range element must meet.
import { describe, expect, it } from "vitest";
import { affineGrid, mseClippedGrid, MSE_CLIP_RATIOS, quantizeAffine, type Grouping } from "@worker/compress/quantize/affine";
import { roundHalfEven } from "@worker/onnx/encoding";
import { rng } from "@test/support/models";

function randomData(n: number, seed: number, offset = 0): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * 0.3 + offset);
}

/** The group of flat index i, computed from its coordinates (independent of the module's layout arithmetic). */
function groupKey(dims: number[], i: number, g: Grouping): string {
  const coords: number[] = [];
  for (let k = dims.length - 1, rest = i; k >= 0; k--) {
    coords[k] = rest % dims[k]!;
    rest = Math.floor(rest / dims[k]!);
  }
  if (g.kind === "tensor") return "all";
  if (g.kind === "channel") return String(coords[g.axis]);
  return coords.map((c, k) => (k === g.axis ? Math.floor(c / g.block) : c)).join(",");
}

function reference(data: Float32Array, dims: number[], g: Grouping, bits: number, symmetric: boolean) {
  const groups = new Map<string, number[]>();
  data.forEach((_, i) => {
    const key = groupKey(dims, i, g);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const levels = new Int32Array(data.length);
  const recon = new Float32Array(data.length);
  const scaleOf = new Float64Array(data.length);
  for (const members of groups.values()) {
    const values = members.map((i) => data[i]!);
    const lo = Math.min(0, ...values);
    const hi = Math.max(0, ...values);
    const [qmin, qmax] = symmetric ? [-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
    const span = symmetric ? Math.max(-lo, hi) / qmax : (hi - lo) / qmax;
    const scale = span > 0 ? Math.fround(span) : 1;
    const zp = symmetric ? 0 : Math.min(qmax, Math.max(0, roundHalfEven(-lo / scale)));
    for (const i of members) {
      levels[i] = Math.min(qmax, Math.max(qmin, roundHalfEven(data[i]! / scale) + zp));
      recon[i] = (levels[i]! - zp) * scale;
      scaleOf[i] = scale;
    }
  }
  return { levels, recon, scaleOf, groups: groups.size };
}

const CASES: { name: string; dims: number[]; g: Grouping }[] = [
  { name: "per tensor", dims: [12, 10], g: { kind: "tensor" } },
  { name: "per channel on axis 1", dims: [12, 10], g: { kind: "channel", axis: 1 } },
  { name: "per channel on axis 0 of a conv weight", dims: [4, 3, 3, 3], g: { kind: "channel", axis: 0 } },
  { name: "blocks of 4 along axis 0 (a partial last block)", dims: [10, 6], g: { kind: "block", axis: 0, block: 4 } },
  { name: "blocks of 8 along axis 1", dims: [5, 16], g: { kind: "block", axis: 1, block: 8 } },
];

describe("quantizeAffine", () => {
  for (const { name, dims, g } of CASES) {
    for (const [bits, symmetric] of [[8, true], [8, false], [4, true], [4, false]] as const) {
      it(`matches the plain reference ${name}, ${bits}-bit ${symmetric ? "symmetric" : "with zero points"}`, () => {
        const n = dims.reduce((a, b) => a * b, 1);
        // A positive offset makes asymmetric ranges differ from symmetric ones.
        const data = randomData(n, bits * 7 + n, symmetric ? 0 : 0.2);
        const q = quantizeAffine(data, dims, g, bits, symmetric);
        const ref = reference(data, dims, g, bits, symmetric);
        expect([...q.levels]).toEqual([...ref.levels]);
        expect([...q.reconstructed]).toEqual([...ref.recon]);
        expect(q.scales.length).toBe(ref.groups);
        expect(q.scaleDims.reduce((a, b) => a * b, 1)).toBe(ref.groups);
        expect(q.zeroPoints === null).toBe(symmetric);
        // Every element is within half a step of its value (no element is clamped: the range covers the group).
        for (let i = 0; i < n; i++) expect(Math.abs(data[i]! - q.reconstructed[i]!)).toBeLessThanOrEqual(ref.scaleOf[i]! / 2 + 1e-7);
      });
    }
  }

  it("keeps exact zeros exact with zero points, and gives an all-zero group scale 1", () => {
    const data = Float32Array.from([0, 0, 0, 0, 0.5, 0, 1.5, -0.25]);
    const q = quantizeAffine(data, [2, 4], { kind: "block", axis: 1, block: 4 }, 8, false);
    expect(q.scales[0]).toBe(1);
    expect([...q.reconstructed.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(q.reconstructed[5]).toBe(0);
    expect(q.scaleDims).toEqual([2, 1]);
  });

  it("rounds half to even", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
});

describe("mseClippedGrid (scale: 'mse')", () => {
  /** Standard normal draws (Box-Muller over the seeded uniform generator). */
  function gaussian(n: number, seed: number): Float32Array {
    const next = rng(seed);
    return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()) * 0.05);
  }

  /** Per group, the squared error of nearest rounding at a given scale, walked by coordinates. */
  function groupErrors(data: Float32Array, dims: number[], g: Grouping, bits: number, scaleOfGroup: (key: string) => number) {
    const qmax = 2 ** (bits - 1) - 1;
    const err = new Map<string, number>();
    data.forEach((w, i) => {
      const key = groupKey(dims, i, g);
      const s = scaleOfGroup(key);
      const d = w - Math.min(qmax, Math.max(-qmax, roundHalfEven(w / s))) * s;
      err.set(key, (err.get(key) ?? 0) + d * d);
    });
    return err;
  }

  const cases: { dims: number[]; g: Grouping; bits: number }[] = [
    { dims: [64, 48], g: { kind: "block", axis: 0, block: 32 }, bits: 4 },
    { dims: [16, 8, 3, 3], g: { kind: "channel", axis: 0 }, bits: 4 },
    { dims: [40, 24], g: { kind: "channel", axis: 1 }, bits: 8 },
    { dims: [30, 20], g: { kind: "tensor" }, bits: 4 },
  ];
  for (const { dims, g, bits } of cases) {
    it(`${bits} bits, ${JSON.stringify(g)}: each group's scale is the ratio of absmax with the least squared error, never worse than absmax`, () => {
      const data = gaussian(dims.reduce((a, b) => a * b, 1), 7);
      const grid = affineGrid(data, dims, g, bits, true);
      const clipped = mseClippedGrid(data, grid);
      expect(clipped.index).toBe(grid.index);
      // The reference: every ratio tried on every group by coordinates; the first of the least errors wins.
      const absmax = new Map<string, number>();
      data.forEach((w, i) => absmax.set(groupKey(dims, i, g), Math.max(absmax.get(groupKey(dims, i, g)) ?? 0, Math.abs(w))));
      const qmax = 2 ** (bits - 1) - 1;
      const want = new Map<string, number>();
      const wantErr = new Map<string, number>();
      for (const ratio of MSE_CLIP_RATIOS) {
        const scaleAt = (key: string) => Math.fround(Math.fround(absmax.get(key)! / qmax) * ratio);
        for (const [key, e] of groupErrors(data, dims, g, bits, scaleAt)) {
          if (!wantErr.has(key) || e < wantErr.get(key)!) {
            wantErr.set(key, e);
            want.set(key, scaleAt(key));
          }
        }
      }
      const got = new Map<string, number>();
      data.forEach((_, i) => got.set(groupKey(dims, i, g), clipped.scales[grid.index[i]!]!));
      expect(got).toEqual(want);
      const before = groupErrors(data, dims, g, bits, (key) => Math.fround(absmax.get(key)! / qmax));
      let total = 0;
      let totalBefore = 0;
      for (const [key, e] of wantErr) {
        expect(e).toBeLessThanOrEqual(before.get(key)!);
        total += e;
        totalBefore += before.get(key)!;
      }
      // Gaussian weights at 4 bits: clipping wins a good share of the error (at 8 bits, only a little).
      if (bits === 4) expect(total).toBeLessThan(0.9 * totalBefore);
      else expect(total).toBeLessThanOrEqual(totalBefore);
    });
  }

  it("keeps absmax where nothing does better (a group of equal magnitudes), and scale 1 for an all-zero group", () => {
    const data = Float32Array.from([0.5, -0.5, 0.5, 0.5, 0, 0, 0, 0]);
    const grid = affineGrid(data, [2, 4], { kind: "channel", axis: 0 }, 4, true);
    expect(Array.from(mseClippedGrid(data, grid).scales)).toEqual([Math.fround(0.5 / 7), 1]);
  });

  it("keeps absmax's scale for a group with a NaN weight (its error is never a number)", () => {
    const data = Float32Array.from([0.3, Number.NaN, -0.1, 0.05, 0.4, -0.2, 0.01, 0.02]);
    const grid = affineGrid(data, [2, 4], { kind: "channel", axis: 0 }, 4, true);
    const clipped = mseClippedGrid(data, grid);
    expect(clipped.scales[0]).toBe(grid.scales[0]);
    expect(Number.isFinite(clipped.scales[1]!) && clipped.scales[1]! > 0).toBe(true);
  });

  it("returns zero-point and sign-only grids as they are", () => {
    const data = gaussian(64, 3);
    const asymmetric = affineGrid(data, [8, 8], { kind: "channel", axis: 0 }, 4, false);
    expect(mseClippedGrid(data, asymmetric)).toBe(asymmetric);
    const signs = { ...affineGrid(data, [8, 8], { kind: "channel", axis: 0 }, 2, true), signOnly: true };
    expect(mseClippedGrid(data, signs)).toBe(signs);
  });
});
