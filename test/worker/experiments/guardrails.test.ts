import { describe, expect, it } from "vitest";
import { newExperiment, rollbackExperiment, type Guardrails } from "@worker/experiments/config";
import { checkGuardrails } from "@worker/experiments/guardrails";
import { applyEvent, type ArmMetrics } from "@worker/experiments/arm-metrics";

const V = "0123456789abcdef01234567";
const make = (guardrails: Guardrails) =>
  newExperiment(
    { name: "e", model: "a".repeat(24), mode: "split", arms: [{ variant: "original", weight: 1 }, { variant: V, weight: 1 }], control: "original", guardrails },
    new Set([V]),
    1,
    "2026-05-01T00:00:00.000Z",
  );

function traffic(m: Map<string, ArmMetrics>, arm: string, n: number, opts: { errors?: number; ms?: number; disagree?: number } = {}) {
  for (let i = 0; i < n; i++) {
    const ok = i >= (opts.errors ?? 0);
    applyEvent(m, {
      requestId: `${arm}-${i}`,
      runs: [{ arm, served: true, ok, ms: opts.ms ?? 1 }],
      agreement: arm === V && ok ? [{ arm, rows: 1, top1Matches: i < (opts.disagree ?? 0) ? 0 : 1, cosine: 0.99, maxAbsDiff: 0.1 }] : [],
    });
  }
}

describe("checkGuardrails", () => {
  it("waits for the minimum sample on both sides before the error-rate rule fires", () => {
    const c = make({ minSamples: 20, errorRateMargin: 0.1 });
    const m = new Map<string, ArmMetrics>();
    traffic(m, "original", 19);
    traffic(m, V, 30, { errors: 15 });
    expect(checkGuardrails(c, m)).toBeNull();
    traffic(m, "original", 1);
    expect(checkGuardrails(c, m)).toEqual({
      automatic: true,
      arm: V,
      rule: "error_rate",
      reason: `arm '${V}' error rate 0.5 exceeds control's 0 by more than 0.1 (n=30 vs 20)`,
    });
  });

  it("does not fire while the error-rate difference stays within the margin", () => {
    const m = new Map<string, ArmMetrics>();
    traffic(m, "original", 100, { errors: 5 });
    traffic(m, V, 100, { errors: 10 });
    expect(checkGuardrails(make({ minSamples: 50, errorRateMargin: 0.1 }), m)).toBeNull();
    expect(checkGuardrails(make({ minSamples: 50, errorRateMargin: 0.04 }), m)?.rule).toBe("error_rate");
  });

  it("fires on p99 latency beyond the margin", () => {
    const m = new Map<string, ArmMetrics>();
    traffic(m, "original", 50, { ms: 2 });
    traffic(m, V, 50, { ms: 40 });
    const r = checkGuardrails(make({ minSamples: 50, p99MarginMs: 10 }), m);
    expect(r?.rule).toBe("p99_latency");
    expect(r?.reason).toMatch(/p99 latency .* ms exceeds control's .* by more than 10 ms \(n=50 vs 50\)/);
    expect(checkGuardrails(make({ minSamples: 50, p99MarginMs: 50 }), m)).toBeNull();
  });

  it("fires when agreement falls below the floor", () => {
    const m = new Map<string, ArmMetrics>();
    traffic(m, "original", 10);
    traffic(m, V, 100, { disagree: 8 });
    expect(checkGuardrails(make({ minSamples: 100, agreementFloor: 0.95 }), m)).toMatchObject({
      rule: "agreement",
      reason: `arm '${V}' top-1 agreement 0.92 is below the floor 0.95 (100 rows compared)`,
    });
    expect(checkGuardrails(make({ minSamples: 100, agreementFloor: 0.9 }), m)).toBeNull();
  });

  it("stays quiet once the experiment has concluded", () => {
    const m = new Map<string, ArmMetrics>();
    traffic(m, "original", 50);
    traffic(m, V, 50, { errors: 50 });
    const c = make({ minSamples: 10, errorRateMargin: 0.1 });
    expect(checkGuardrails(c, m)).not.toBeNull();
    expect(checkGuardrails(rollbackExperiment(c, { automatic: false, reason: "done" }, 2, "2026-05-02T00:00:00.000Z"), m)).toBeNull();
  });
});
