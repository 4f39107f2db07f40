// Compensated roundings a piece at a time: on a wide layer GPTQ, AdaRound and the rounding toward float outputs pause
// several times, and the rounding their pieces end in is, level for level and scale for scale, the one a single call
// gives. Pieces yield once per PIECE_WORK of counted work.
import { describe, expect, it } from "vitest";
import { affineGrid, type Rounded } from "@worker/compress/quantize/affine";
import { adaroundRounding } from "@worker/compress/quantize/adaround";
import { towardFloatOutputs } from "@worker/compress/quantize/float-target";
import { blockedLayout, gptqRounding } from "@worker/compress/quantize/gptq";
import { Pieces, stepsOf, type RoundingSteps } from "@worker/compress/quantize/stepped";
import { correlated, hessianOf, seededWeights } from "@test/support/hessians";
import type { GemmLayout } from "@worker/onnx/operators";

const matmul = (k: number, n: number): GemmLayout => ({ groups: 1, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n });

/** Runs steps to the end, counting the pauses. */
function counted(steps: RoundingSteps): { result: Rounded; pauses: number } {
  let pauses = 0;
  for (;;) {
    const step = steps.next();
    if (step.done) return { result: step.value, pauses };
    pauses++;
  }
}

describe("roundings a piece at a time", () => {
  // 512 inputs: GPTQ's factorizations alone are about five pieces.
  const k = 512;
  const n = 192;
  const h = hessianOf(correlated(400, k, 5), k);
  // Three diagonal blocks of 512 inputs each, from their own rows, concatenated.
  const blocks = Float64Array.from([...h, ...hessianOf(correlated(400, k, 6), k), ...hessianOf(correlated(400, k, 7), k)]);

  const cases = [
    { name: "GPTQ at 4 bits", bits: 4, k, rounding: () => gptqRounding(h, matmul(k, n)) },
    { name: "GPTQ at 1 bit in 3 diagonal blocks (one scale refit over the blocks)", bits: 1, k: 3 * k, rounding: () => gptqRounding(blocks, blockedLayout(matmul(3 * k, n), 3)!) },
    { name: "AdaRound at 2 bits", bits: 2, k, rounding: () => adaroundRounding(h, matmul(k, n), { iterations: 12, regularization: 10 }) },
    { name: "GPTQ toward the float outputs", bits: 4, k, rounding: () => towardFloatOutputs(gptqRounding(h, matmul(k, n)), h, h, matmul(k, n), 0.01) },
  ];
  for (const c of cases) {
    it(`${c.name}: several pauses, and the same levels and scales as one call`, () => {
      const w = seededWeights(c.k, n, 3);
      const grid = affineGrid(w, [c.k, n], { kind: "channel", axis: 1 }, c.bits, true);
      const once = c.rounding()(w, grid);
      const { result, pauses } = counted(stepsOf(c.rounding(), w, grid));
      expect(pauses).toBeGreaterThan(2);
      expect(result.levels).toEqual(once.levels);
      expect(result.scales).toEqual(once.scales);
    });
  }

  it("takes a rounding without steps as one piece", () => {
    const w = seededWeights(k, n, 3);
    const grid = affineGrid(w, [k, n], { kind: "channel", axis: 1 }, 4, true);
    const plain = (data: Float32Array) => ({ levels: new Int32Array(data.length).fill(1), scales: grid.scales });
    const { result, pauses } = counted(stepsOf(plain, w, grid));
    expect(pauses).toBe(0);
    expect(result.levels.every((l) => l === 1)).toBe(true);
  });

  it("pauses once per piece of counted work", () => {
    const pieces = new Pieces(100);
    const pauses = (work: number[]) => {
      let n = 0;
      for (const w of work) for (const _ of pieces.spend(w)) n++;
      return n;
    };
    expect(pauses([40, 40])).toBe(0);
    expect(pauses([40])).toBe(1);
    expect(pauses([99, 1, 250])).toBe(2);
  });
});
