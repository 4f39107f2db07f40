// float16 bits against hand-written IEEE half patterns, both ways: rounding to nearest even, subnormals, overflow and
// the special values.
import { describe, expect, it } from "vitest";
import { fromHalf, toHalf } from "@formats/half.js";

describe("float16", () => {
  it("encodes to the IEEE half bit patterns", () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff); // largest finite
    expect(toHalf(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(toHalf(NaN) & 0x7e00).toBe(0x7e00);
  });

  it("rounds halfway cases to the even pattern, subnormals and overflow included", () => {
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // between 0x3c00 and 0x3c01: even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // between 0x3c01 and 0x3c02: even
    expect(toHalf(2 ** -25)).toBe(0x0000); // half the smallest subnormal: even is 0
    expect(toHalf(3 * 2 ** -25)).toBe(0x0002);
    expect(toHalf(65520)).toBe(0x7c00); // halfway to 65536: even is the overflow
    expect(toHalf(65519)).toBe(0x7bff);
  });

  it("decodes normal, subnormal and special patterns", () => {
    expect(fromHalf(0x3c00)).toBe(1);
    expect(fromHalf(0xc000)).toBe(-2);
    expect(fromHalf(0x7bff)).toBe(65504);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
    expect(fromHalf(0x8000)).toBe(-0);
    expect(fromHalf(0x7c00)).toBe(Infinity);
    expect(fromHalf(0xfc00)).toBe(-Infinity);
    expect(fromHalf(0x7e00)).toBeNaN();
  });
});
