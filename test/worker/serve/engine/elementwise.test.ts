// The engine's erf against published values (Abramowitz & Stegun, table 7.1, to 16 digits): within two float32 ulps
// relative everywhere, near zero (the series) and in the tails (the rational erfc) alike, and odd. rowBroadcast: which
// broadcasts are one value per row of trailing elements (what f32_rows_affine walks).
import { describe, expect, it } from "vitest";
import { erf, rowBroadcast } from "@worker/serve/engine/elementwise";

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
