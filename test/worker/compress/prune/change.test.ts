import { describe, expect, it } from "vitest";
import { outputChange } from "@worker/compress/prune/change";

// Output channels that are copies of one another have equal outputs on any input, so zeroing k of N of them changes
// the output by exactly sqrt(k / N), whatever the probes: a reference that needs no probe.
describe("outputChange", () => {
  it("measures a MatMul weight [K, N] along its output axis (1)", () => {
    const column = [1, -2, 0.5];
    const before = Float32Array.from({ length: 3 * 4 }, (_, i) => column[Math.floor(i / 4)]!);
    const after = before.map((v, i) => (i % 4 === 0 || i % 4 === 2 ? 0 : v));
    expect(outputChange(before, after, [3, 4], 1)).toBeCloseTo(Math.sqrt(2 / 4), 12);
  });

  it("measures a Conv weight [M, C, kh, kw] along its output axis (0)", () => {
    const patch = Array.from({ length: 2 * 3 * 3 }, (_, i) => Math.sin(i + 1));
    const before = Float32Array.from({ length: 4 * 18 }, (_, i) => patch[i % 18]!);
    const after = before.map((v, i) => (Math.floor(i / 18) === 3 ? 0 : v));
    expect(outputChange(before, after, [4, 2, 3, 3], 0)).toBeCloseTo(Math.sqrt(1 / 4), 12);
  });

  it("is 1 for a weight pruned to nothing, 0 for one left as it was or already all zeros", () => {
    const before = Float32Array.from({ length: 64 }, (_, i) => (i % 7) - 3.5);
    expect(outputChange(before, new Float32Array(64), [8, 8], 1)).toBe(1);
    expect(outputChange(before, before.slice(), [8, 8], 1)).toBe(0);
    expect(outputChange(new Float32Array(64), new Float32Array(64), [8, 8], 1)).toBe(0);
  });
});
