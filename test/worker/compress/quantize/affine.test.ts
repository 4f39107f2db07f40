// Affine weight quantization (per tensor, per channel, blocks; symmetric and with zero points) against a plain
// reference that walks coordinates, and the error bound every in-range element must meet.
import { describe, expect, it } from "vitest";
import { quantizeAffine, type Grouping } from "@worker/compress/quantize/affine";
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
