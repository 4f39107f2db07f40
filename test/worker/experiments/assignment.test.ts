import { describe, expect, it } from "vitest";
import { assignArm, hash32, pickArm, unitPoint } from "@worker/experiments/assignment";

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe("pickArm", () => {
  it("splits 20k sticky keys 70/20/10 within a chi-square bound (df=2, p=0.001 critical value 13.82)", () => {
    const arms = [
      { variant: "original", weight: 70 },
      { variant: "aaaaaaaaaaaaaaaaaaaaaaaa", weight: 20 },
      { variant: "bbbbbbbbbbbbbbbbbbbbbbbb", weight: 10 },
    ];
    const counts = new Map<string, number>();
    for (const k of KEYS) {
      const arm = pickArm(arms, unitPoint("exp", k));
      counts.set(arm, (counts.get(arm) ?? 0) + 1);
    }
    let chi2 = 0;
    for (const a of arms) {
      const expected = (KEYS.length * a.weight) / 100;
      chi2 += ((counts.get(a.variant) ?? 0) - expected) ** 2 / expected;
    }
    expect(chi2).toBeLessThan(13.82);
  });

  it("never picks an arm with weight 0 and refuses all-zero weights", () => {
    const arms = [
      { variant: "a", weight: 0 },
      { variant: "b", weight: 1 },
      { variant: "c", weight: 0 },
    ];
    for (const u of [0, 0.25, 0.5, 0.999999]) expect(pickArm(arms, u)).toBe("b");
    expect(() => pickArm([{ variant: "a", weight: 0 }], 0.5)).toThrow(/not all be zero/);
  });

  it("keeps the users already on the last arm when its weight is ramped up", () => {
    const before = [{ variant: "original", weight: 90 }, { variant: "v", weight: 10 }];
    const after = [{ variant: "original", weight: 80 }, { variant: "v", weight: 20 }];
    const onV = KEYS.filter((k) => pickArm(before, unitPoint("exp", k)) === "v");
    expect(onV.length).toBeGreaterThan(1500);
    expect(onV.every((k) => pickArm(after, unitPoint("exp", k)) === "v")).toBe(true);
  });
});

describe("assignArm", () => {
  const arms = [{ variant: "original", weight: 50 }, { variant: "v", weight: 50 }];
  const never = () => {
    throw new Error("random draw not expected");
  };

  it("gives a sticky key the same arm every time", () => {
    for (const k of KEYS.slice(0, 200)) {
      const first = assignArm("exp", arms, { stickyKey: k, random: never });
      expect(first.by).toBe("sticky");
      for (let i = 0; i < 3; i++) expect(assignArm("exp", arms, { stickyKey: k, random: never }).arm).toBe(first.arm);
    }
  });

  it("splits the same users independently in two experiments", () => {
    const a = KEYS.map((k) => pickArm(arms, unitPoint("exp-a", k)));
    const b = KEYS.map((k) => pickArm(arms, unitPoint("exp-b", k)));
    const same = a.filter((x, i) => x === b[i]).length / KEYS.length;
    expect(Math.abs(same - 0.5)).toBeLessThan(0.02); // independent halves coincide half of the time
  });

  it("honours a returned token for an arm that takes traffic, else draws at random", () => {
    expect(assignArm("exp", arms, { token: "v", random: never })).toEqual({ arm: "v", by: "token" });
    const closed = [{ variant: "original", weight: 1 }, { variant: "v", weight: 0 }];
    expect(assignArm("exp", closed, { token: "v", random: () => 0.7 })).toEqual({ arm: "original", by: "random" });
    expect(assignArm("exp", arms, { token: "nonsense", random: () => 0.7 })).toEqual({ arm: "v", by: "random" });
  });

  it("spreads similar keys over the whole 32-bit range", () => {
    const hs = KEYS.slice(0, 1000).map(hash32);
    expect(new Set(hs).size).toBe(1000);
    expect(hs.filter((h) => h >= 2 ** 31).length).toBeGreaterThan(430);
    expect(hs.filter((h) => h >= 2 ** 31).length).toBeLessThan(570);
  });
});
