// The engine's erf against published values (Abramowitz & Stegun, table 7.1, to 16 digits): within two float32 ulps
// relative everywhere, near zero (the series) and in the tails (the rational erfc) alike, and odd. rowBroadcast: which
// broadcasts are one value per row of trailing elements (what f32_rows_affine walks). consecutiveTail: which trailing dims
// of a remap read consecutive source elements, so that their rows copy as one block.
import { describe, expect, it } from "vitest";
import { erf, rowBroadcast } from "@worker/serve/engine/elementwise";
import { consecutiveTail, remap } from "@worker/serve/engine/shape";

const TABLE: [number, number][] = [
  [0.001, 0.0011283787909692363],
  [0.1, 0.1124629160182849],
  [0.25, 0.2763263901682369],
  [0.5, 0.5204998778130465],
  [1, 0.8427007929497149],
  [1.5, 0.9661051464753108],
  [2, 0.9953222650189527],
  [3, 0.9999779095030014],
];

describe("erf", () => {
  it("is within 2.4e-7 relative (two float32 ulps) of the table, and odd", () => {
    for (const [x, want] of TABLE) {
      expect(Math.abs(erf(x) - want) / want, `erf(${x})`).toBeLessThan(2.4e-7);
      expect(erf(-x)).toBe(-erf(x));
    }
  });

  it("is exactly 0 at 0 and rounds to +-1 in float32 from 4 on", () => {
    expect(erf(0)).toBe(0);
    for (const x of [4, 5.5, 30, Infinity]) {
      expect(Math.fround(erf(x))).toBe(1);
      expect(Math.fround(erf(-x))).toBe(-1);
    }
  });
});

describe("rowBroadcast", () => {
  it("reads a value per plane, per channel and a scalar as rows of trailing elements", () => {
    expect(rowBroadcast([2, 8, 5, 7], [2, 8, 1, 1])).toEqual({ reps: 1, rows: 16, len: 35 });
    expect(rowBroadcast([2, 8, 5, 7], [1, 8, 1, 1])).toEqual({ reps: 2, rows: 8, len: 35 });
    expect(rowBroadcast([2, 8, 5, 7], [8, 1, 1])).toEqual({ reps: 2, rows: 8, len: 35 });
    expect(rowBroadcast([2, 8, 5, 7], [])).toEqual({ reps: 1, rows: 1, len: 560 });
    expect(rowBroadcast([2, 8, 5, 7], [5, 7])).toEqual({ reps: 16, rows: 35, len: 1 });
    expect(rowBroadcast([2, 8, 5, 7], [2, 8, 5, 7])).toEqual({ reps: 1, rows: 560, len: 1 });
  });

  it("refuses broadcasts that are not rows: a gap of ones inside, an axis it stretches, or more axes than the result", () => {
    expect(rowBroadcast([2, 8, 5, 7], [2, 1, 5, 1])).toBeNull();
    expect(rowBroadcast([2, 8, 5, 7], [2, 1, 1, 1])).toEqual({ reps: 1, rows: 2, len: 280 });
    expect(rowBroadcast([2, 8, 5, 7], [3, 1, 1])).toBeNull();
    expect(rowBroadcast([8, 5], [1, 8, 5])).toBeNull();
  });
});

describe("consecutiveTail", () => {
  const iota = (n: number, from = 0, step = 1) => Int32Array.from({ length: n }, (_, i) => from + i * step);

  it("merges whole trailing planes of a channel slice into one row per image, and the copy is unchanged", () => {
    // Channels 2..4 of [2, 6, 3, 5]: source strides 90, 15, 5, 1.
    const offsets = [iota(2, 0, 90), iota(3, 30, 15), iota(3, 0, 5), iota(5)];
    expect(consecutiveTail([2, 3, 3, 5], offsets)).toEqual({ keep: 1, length: 45, start: 30 });
    const src = Float32Array.from({ length: 180 }, (_, i) => i);
    const dst = new Float32Array(90);
    remap(src, dst, [2, 3, 3, 5], offsets);
    const want = Float32Array.from({ length: 90 }, (_, i) => Math.floor(i / 45) * 90 + 30 + (i % 45));
    expect(Array.from(dst)).toEqual(Array.from(want));
  });

  it("takes the last dim alone when the one before it skips, and nothing when the last dim does (a column slice, a step, padding)", () => {
    expect(consecutiveTail([3, 2], [iota(3, 0, 5), iota(2, 1)])).toEqual({ keep: 1, length: 2, start: 1 }); // columns 1..2 of [3, 5]
    expect(consecutiveTail([3, 3], [iota(3, 0, 5), iota(3, 0, 2)])).toBeNull(); // every other column
    expect(consecutiveTail([3, 5], [iota(3, 0, 5), Int32Array.of(-1, 0, 1, 2, -1)])).toBeNull(); // padded columns
    expect(consecutiveTail([3, 5], [Int32Array.of(-1, 0, 5), iota(5)])).toEqual({ keep: 1, length: 5, start: 0 }); // a padded row
    expect(consecutiveTail([2, 0], [iota(2), new Int32Array(0)])).toBeNull();
  });
});
