import { describe, expect, it } from "vitest";
import { compareOutputs, top1Rows } from "@worker/experiments/agreement";

const t = (dims: number[], data: number[]) => ({ type: "float32", dims, data });

describe("top1Rows", () => {
  it("takes the argmax over the last axis per row, the first maximum on ties", () => {
    expect(top1Rows(t([3, 3], [0, 2, 1, 5, 5, 0, -1, -2, -0.5]))).toEqual([1, 0, 2]);
    expect(top1Rows(t([], [7]))).toEqual([0]);
  });
});

describe("compareOutputs", () => {
  it("counts matching rows, computes cosine over the tensor and the largest difference", () => {
    // rows: [1,0] vs [0.9,0.1] agree; [0,1] vs [0.6,0.4] disagree
    const a = t([2, 2], [1, 0, 0, 1]);
    const b = t([2, 2], [0.9, 0.1, 0.6, 0.4]);
    const r = compareOutputs(a, b)!;
    expect(r.rows).toBe(2);
    expect(r.top1Matches).toBe(1);
    // dot = 0.9 + 0.4 = 1.3; |a| = sqrt 2; |b| = sqrt(0.81+0.01+0.36+0.16) = sqrt 1.34
    expect(r.cosine).toBeCloseTo(1.3 / Math.sqrt(2 * 1.34), 12);
    expect(r.maxAbsDiff).toBeCloseTo(0.6, 12);
  });

  it("treats identical outputs as full agreement and mismatched shapes as not comparable", () => {
    const a = t([1, 3], [0.2, -1, 3]);
    expect(compareOutputs(a, a)).toEqual({ rows: 1, top1Matches: 1, cosine: 1, maxAbsDiff: 0 });
    expect(compareOutputs(a, t([3, 1], [0.2, -1, 3]))).toBeNull();
    expect(compareOutputs(t([1, 2], [0, 0]), t([1, 2], [0, 0]))!.cosine).toBe(1);
    expect(compareOutputs(t([1, 2], [0, 0]), t([1, 2], [1, 0]))!.cosine).toBe(0);
  });
});
