import { describe, expect, it } from "vitest";
import { DomainError } from "@worker/domain-error";
import { newExperiment, patchExperiment, promoteExperiment, rollbackExperiment, type ExperimentSpec } from "@worker/experiments/config";

const V = "0123456789abcdef01234567";
const W = "fedcba9876543210fedcba98";
const variants = new Set([V, W]);
const NOW = "2026-05-01T00:00:00.000Z";
const spec = (over: Partial<ExperimentSpec> = {}): ExperimentSpec => ({
  name: "int8-canary",
  model: "aaaaaaaaaaaaaaaaaaaaaaaa",
  mode: "split",
  arms: [{ variant: "original", weight: 90 }, { variant: V, weight: 10 }],
  control: "original",
  ...over,
});

function rejects(fn: () => unknown, message: RegExp) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("invalid_request");
    expect((err as DomainError).message).toMatch(message);
    return;
  }
  throw new Error("expected a 400");
}

describe("newExperiment", () => {
  it("starts running at version 1 with the default agreement sample", () => {
    const c = newExperiment(spec({ sticky: { header: "X-User" } }), variants, 1, NOW);
    expect(c).toMatchObject({ status: "running", version: 1, agreementSample: 0.1, sticky: { header: "x-user" } });
    expect(c.history).toEqual([{ at: NOW, action: "created", detail: `original=90, ${V}=10` }]);
  });

  it("rejects arms that are not the model's variants, repeated arms, a foreign control and bad names", () => {
    rejects(() => newExperiment(spec({ arms: [{ variant: "original", weight: 1 }, { variant: "b".repeat(24), weight: 1 }] }), variants, 1, NOW), /is not a variant of model/);
    rejects(() => newExperiment(spec({ arms: [{ variant: V, weight: 1 }, { variant: V, weight: 1 }] }), variants, 1, NOW), /appears twice/);
    rejects(() => newExperiment(spec({ control: W }), variants, 1, NOW), /control: .* is not one of the arms/);
    rejects(() => newExperiment(spec({ name: "Bad_Name" }), variants, 1, NOW), /must match/);
    rejects(() => newExperiment(spec({ arms: [{ variant: "original", weight: 1 }] }), variants, 1, NOW), /at least two arms/);
  });

  it("rejects negative, unbounded and all-zero weights, and a shadow control without traffic", () => {
    rejects(() => newExperiment(spec({ arms: [{ variant: "original", weight: -1 }, { variant: V, weight: 1 }] }), variants, 1, NOW), /from 0 to 1000000/);
    rejects(() => newExperiment(spec({ arms: [{ variant: "original", weight: 1e308 }, { variant: V, weight: 1 }] }), variants, 1, NOW), /arm 'original': weight must be a finite number from 0 to 1000000/);
    rejects(() => newExperiment(spec({ arms: [{ variant: "original", weight: 0 }, { variant: V, weight: 0 }] }), variants, 1, NOW), /not all be zero/);
    rejects(() => newExperiment(spec({ mode: "shadow", arms: [{ variant: "original", weight: 0 }, { variant: V, weight: 1 }] }), variants, 1, NOW), /shadow mode/);
  });
});

describe("transitions", () => {
  const base = newExperiment(spec({ arms: [{ variant: "original", weight: 80 }, { variant: V, weight: 15 }, { variant: W, weight: 5 }] }), variants, 1, NOW);

  it("ramps one arm to a percentage and scales the others in proportion", () => {
    const even = patchExperiment(base, { weights: { original: 60, [V]: 20, [W]: 20 } }, 2, NOW);
    const c = patchExperiment(even, { ramp: { variant: V, percent: 50 } }, 3, NOW);
    // the other 50% split 60:20 between original and W
    expect(c.arms).toEqual([{ variant: "original", weight: 37.5 }, { variant: V, weight: 50 }, { variant: W, weight: 12.5 }]);
    expect(c.version).toBe(3);
  });

  it("sets weights by arm and refuses unknown arms", () => {
    const c = patchExperiment(base, { weights: { [W]: 0 } }, 2, NOW);
    expect(c.arms.map((a) => a.weight)).toEqual([80, 15, 0]);
    rejects(() => patchExperiment(base, { weights: { nope: 1 } }, 2, NOW), /not an arm/);
    rejects(() => patchExperiment(base, { weights: { original: 0, [V]: 0, [W]: 0 } }, 2, NOW), /not all be zero/);
  });

  it("promotes one arm to 100% and rolls back to the control, recording why", () => {
    rejects(() => promoteExperiment(base, undefined, 2, NOW), /name the arm/);
    const p = promoteExperiment(base, W, 2, NOW);
    expect(p).toMatchObject({ status: "promoted", winner: W });
    expect(p.arms.map((a) => a.weight)).toEqual([0, 0, 100]);
    const r = rollbackExperiment(p, { automatic: false, reason: "users complained" }, 3, "2026-05-02T00:00:00.000Z");
    expect(r).toMatchObject({ status: "rolled_back", winner: "original", rollback: { automatic: false, reason: "users complained", at: "2026-05-02T00:00:00.000Z" } });
    expect(r.arms.map((a) => a.weight)).toEqual([100, 0, 0]);
    expect(r.history.map((h) => h.action)).toEqual(["created", "promoted", "rolled_back"]);
  });

  it("resumes a concluded experiment when its weights change", () => {
    const r = rollbackExperiment(base, { automatic: false, reason: "x" }, 2, NOW);
    const c = patchExperiment(r, { ramp: { variant: V, percent: 5 } }, 3, NOW);
    expect(c.status).toBe("running");
    expect(c.winner).toBeUndefined();
    expect(c.arms).toEqual([{ variant: "original", weight: 95 }, { variant: V, weight: 5 }, { variant: W, weight: 0 }]);
  });
});
