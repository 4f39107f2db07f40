import { describe, expect, it } from "vitest";
import { newExperiment } from "@worker/experiments/config";
import { agreementVerdict, applyEvent, compareRates, scoreFeedback, summarize, type ArmMetrics } from "@worker/experiments/arm-metrics";

const V = "0123456789abcdef01234567";
const config = newExperiment(
  { name: "e", model: "a".repeat(24), mode: "split", arms: [{ variant: "original", weight: 3 }, { variant: V, weight: 1 }], control: "original" },
  new Set([V]),
  1,
  "2026-05-01T00:00:00.000Z",
);

describe("applyEvent", () => {
  it("adds runs, errors, latency and agreement to the arms an event names", () => {
    const m = new Map<string, ArmMetrics>();
    applyEvent(m, {
      requestId: "r1",
      runs: [{ arm: V, served: true, ok: true, ms: 2 }, { arm: "original", served: false, ok: true, ms: 4 }],
      agreement: [{ arm: V, rows: 4, top1Matches: 3, cosine: 0.98, maxAbsDiff: 0.2 }],
    });
    applyEvent(m, { requestId: "r2", runs: [{ arm: V, served: true, ok: false, ms: 0 }], agreement: [] });
    applyEvent(m, {
      requestId: "r3",
      runs: [{ arm: V, served: true, ok: true, ms: 6 }],
      agreement: [{ arm: V, rows: 4, top1Matches: 4, cosine: 1, maxAbsDiff: 0.05 }],
    });
    const v = m.get(V)!;
    expect([v.requests, v.served, v.errors, v.latencySumMs]).toEqual([3, 3, 1, 8]);
    expect(v.latency.reduce((a, b) => a + b, 0)).toBe(2);
    expect(v.agreement).toEqual({ compared: 2, rows: 8, top1Matches: 7, cosineSum: 1.98, maxAbsDiff: 0.2 });
    expect([m.get("original")!.requests, m.get("original")!.served]).toEqual([1, 0]);

    const [control, arm] = summarize(config, m);
    expect(control!.role).toBe("control");
    expect(control!.share).toBe(0.75);
    expect(arm!.errorRate).toBeCloseTo(1 / 3, 6);
    expect(arm!.agreement).toMatchObject({ top1Rate: 0.875, meanCosine: 0.99, maxAbsDiff: 0.2 });
    expect(arm!.latency.count).toBe(2);
    expect(arm!.verdict!.errorRate).toBe("insufficient_data");
  });

  it("scores feedback per row against the arm's top-1", () => {
    const m = new Map<string, ArmMetrics>();
    applyEvent(m, { requestId: "r", runs: [{ arm: V, served: true, ok: true, ms: 1 }], agreement: [] });
    scoreFeedback(m.get(V)!, [2, 0, 1], [2, 1, 1]);
    expect(m.get(V)!.feedback).toEqual({ rows: 3, correct: 2 });
  });
});

describe("verdicts", () => {
  it("calls a significantly higher error rate worse and a small difference not significant", () => {
    expect(compareRates(20, 200, 5, 200, false)).toBe("worse");
    expect(compareRates(6, 200, 5, 200, false)).toBe("no_significant_difference");
    expect(compareRates(180, 200, 150, 200, true)).toBe("better");
    expect(compareRates(1, 10, 0, 1000, false)).toBe("insufficient_data");
  });

  it("places the Wilson interval of agreement against the target", () => {
    expect(agreementVerdict(1000, 1000, 0.99)).toBe("meets_target"); // lower bound 0.99617
    expect(agreementVerdict(900, 1000, 0.99)).toBe("below_target");
    expect(agreementVerdict(99, 100, 0.99)).toBe("inconclusive");
    expect(agreementVerdict(5, 5, 0.99)).toBe("insufficient_data");
  });
});
