// The engine's erf against published values (Abramowitz & Stegun, table 7.1, to 16 digits): within two float32 ulps
// relative everywhere, near zero (the series) and in the tails (the rational erfc) alike, and odd.
import { describe, expect, it } from "vitest";
import { erf } from "@worker/serve/engine/elementwise";

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
