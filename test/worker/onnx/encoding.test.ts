// ONNX number formats against hand-written bit patterns: round half to even, the float16 table (every pattern round
// trips; the bit patterns themselves in test/formats/half.test.ts), INT4/UINT4 and INT2/UINT2 element order and sign
// within a byte.
import { describe, expect, it } from "vitest";
import {
  fromHalf, halfValues, packInt2, packInt4, roundHalfEven, toHalf, unpackInt2, unpackInt4, unpackSubByte,
} from "@worker/onnx/encoding";

describe("roundHalfEven", () => {
  it("sends ties to the even neighbour, either sign", () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, -2, -2, -4]);
  });

  it("rounds anything else to the nearest integer and leaves integers and infinities", () => {
    expect([2.4, 2.6, -2.4, -2.6, 0.49999999999999994, 7, -7, 2 ** 53].map(roundHalfEven)).toEqual([2, 3, -2, -3, 0, 7, -7, 2 ** 53]);
    expect(roundHalfEven(Infinity)).toBe(Infinity);
    expect(roundHalfEven(NaN)).toBeNaN();
  });
});

describe("float16 table", () => {
  it("round trips every non-NaN pattern, and the lookup table holds the same values", () => {
    const table = halfValues();
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      const v = fromHalf(h);
      if (!Object.is(table[h], v)) mismatches++;
      if (!Number.isNaN(v) && toHalf(v) !== h) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(halfValues()).toBe(table); // built once
  });
});

describe("INT4 and UINT4", () => {
  it("packs element 2i in the low nibble, two's complement: [1, -1, 7, -8, 3] is f1 87 03", () => {
    expect([...packInt4(Int8Array.of(1, -1, 7, -8, 3))]).toEqual([0xf1, 0x87, 0x03]);
  });

  it("unpacks signed from f1 87 03, and the same bytes unsigned as 0..15", () => {
    expect([...unpackInt4(Uint8Array.of(0xf1, 0x87, 0x03), 5)]).toEqual([1, -1, 7, -8, 3]);
    expect([...unpackSubByte(Uint8Array.of(0xf1, 0x87), 4, 4, new Uint8Array(4))]).toEqual([1, 15, 7, 8]);
  });

  it("round trips every int4 level at every position", () => {
    const levels = Int8Array.from({ length: 33 }, (_, i) => ((i * 5) % 16) - 8);
    expect([...unpackInt4(packInt4(levels), levels.length)]).toEqual([...levels]);
  });

  it("reads bytes past the end of the data as zeros", () => {
    expect([...unpackInt4(Uint8Array.of(0x21), 3)]).toEqual([1, 2, 0]);
  });
});

describe("INT2 and UINT2", () => {
  it("packs element 4i+j in bits 2j..2j+1: [1, 0, -1, -2, -2] is b1 02", () => {
    expect([...packInt2([1, 0, -1, -2, -2])]).toEqual([0xb1, 0x02]);
  });

  it("unpacks signed in [-2, 1] and unsigned in [0, 3]", () => {
    expect([...unpackInt2(Uint8Array.of(0xb1, 0x02), 5)]).toEqual([1, 0, -1, -2, -2]);
    expect([...unpackSubByte(Uint8Array.of(0xb1), 4, 2, new Uint8Array(4))]).toEqual([1, 0, 3, 2]);
  });
});
