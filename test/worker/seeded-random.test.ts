// The seeded generator that k-means++ and the serve check draw from.
import { describe, expect, it } from "vitest";
import { seededRandom } from "@worker/seeded-random";

describe("seededRandom", () => {
  it("is uniform in [0, 1) and repeats for a seed", () => {
    const a = seededRandom(3);
    const b = seededRandom(3);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
    }
    expect(sum / 10000).toBeCloseTo(0.5, 1);
  });
});
