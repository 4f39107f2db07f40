import { describe, expect, it } from "vitest";
import { newExperiment } from "@worker/experiments/config";
import { applyEvent, type ArmMetrics } from "@worker/experiments/arm-metrics";
import { renderPrometheus } from "@worker/experiments/prometheus";

const V = "0123456789abcdef01234567";
const config = newExperiment(
  { name: "e", model: "a".repeat(24), mode: "split", arms: [{ variant: "original", weight: 9 }, { variant: V, weight: 1 }], control: "original" },
  new Set([V]),
  1,
  "2026-05-01T00:00:00.000Z",
);

describe("renderPrometheus", () => {
  const m = new Map<string, ArmMetrics>();
  // latencies 0.3, 0.3, 3 and 30 ms on the control, one error on the candidate
  for (const ms of [0.3, 0.3, 3, 30]) applyEvent(m, { requestId: String(ms), runs: [{ arm: "original", served: true, ok: true, ms }], agreement: [] });
  applyEvent(m, { requestId: "x", runs: [{ arm: V, served: true, ok: false, ms: 1 }], agreement: [] });
  const text = renderPrometheus([{ config, metrics: Object.fromEntries(m) }]);
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    if (!line) throw new Error(`no series ${series}`);
    return Number(line.slice(series.length + 1));
  };
  const ctl = 'experiment="e",model="aaaaaaaaaaaaaaaaaaaaaaaa",variant="original",arm="control"';

  it("labels counters by experiment, model, variant and arm role", () => {
    expect(value(`slimserve_experiment_requests_total{${ctl}}`)).toBe(4);
    expect(value(`slimserve_experiment_errors_total{experiment="e",model="${"a".repeat(24)}",variant="${V}",arm="candidate"}`)).toBe(1);
    expect(value(`slimserve_experiment_weight{${ctl}}`)).toBe(9);
    expect(text).toMatch(/^# TYPE slimserve_experiment_latency_seconds histogram$/m);
  });

  it("exposes cumulative latency buckets in seconds that count exactly", () => {
    // bounds 0.05 ms * 2^k: 0.4 ms holds the two 0.3s, 3.2 ms adds the 3, 51.2 ms the 30
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="0.0002"}`)).toBe(0);
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="0.0004"}`)).toBe(2);
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="0.0032"}`)).toBe(3);
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="0.0256"}`)).toBe(3);
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="0.0512"}`)).toBe(4);
    expect(value(`slimserve_experiment_latency_seconds_bucket{${ctl},le="+Inf"}`)).toBe(4);
    expect(value(`slimserve_experiment_latency_seconds_count{${ctl}}`)).toBe(4);
    expect(value(`slimserve_experiment_latency_seconds_sum{${ctl}}`)).toBeCloseTo(0.0336, 12);
  });
});
