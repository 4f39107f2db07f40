// Reading optional report fields for display: absent parts are null (shown as "—"), known spellings are read.
import { describe, expect, it } from "vitest";
import { experimentView, latencyHistograms, recipeText, variantMetrics } from "../../../worker/dashboard/metrics";
import { SAMPLE_EXPERIMENT, SAMPLE_PROMETHEUS } from "./samples";

describe("variantMetrics", () => {
  it("is all null for a variant without an evaluation (today's records)", () => {
    expect(variantMetrics({ id: "v", bits: 8, engine: "onnxruntime-web" })).toEqual({
      accuracyDelta: null,
      agreement: null,
      latencyMs: null,
      engine: "onnxruntime-web",
      residentBytes: null,
    });
  });

  it("derives the accuracy change from the variant's and the original's accuracy", () => {
    const m = variantMetrics({ eval: { accuracy: 0.971, baselineAccuracy: 0.975, agreement: 0.993, latencyMs: { p50: 0.42, mean: 0.5 } }, engine: "kernels", residentBytes: 1234 });
    expect(m.accuracyDelta).toBeCloseTo(-0.004, 12);
    expect(m).toMatchObject({ agreement: 0.993, latencyMs: 0.42, engine: "kernels", residentBytes: 1234 });
  });

  it("prefers a reported accuracyDelta and reads a plain latency number", () => {
    expect(variantMetrics({ eval: { accuracyDelta: -0.01, accuracy: 0.5, baselineAccuracy: 0.9, latencyMs: 3 } })).toMatchObject({ accuracyDelta: -0.01, latencyMs: 3 });
  });

  it("ignores values that are not finite numbers", () => {
    expect(variantMetrics({ eval: { agreement: "high", latencyMs: Number.NaN } })).toMatchObject({ agreement: null, latencyMs: null });
  });
});

describe("recipeText", () => {
  it("summarizes quantization and pruning", () => {
    expect(recipeText({ quantize: { bits: 8, scheme: "weight-only", granularity: "per-channel", symmetric: true } })).toBe("int8 weight-only per-channel");
    expect(recipeText({ prune: { sparsity: 0.5 }, quantize: { bits: 4 } })).toBe("prune 50% + int4");
    expect(recipeText(undefined)).toBe("—");
  });
});

describe("experimentView", () => {
  it("reads arms, their weights as shares, and each arm's results", () => {
    const x = experimentView(SAMPLE_EXPERIMENT);
    expect(x).toMatchObject({ name: "mlp-int8", status: "running", mode: "split", model: "m".repeat(24) });
    expect(x.arms.map((a) => [a.variant, a.role, a.weight, a.served, a.servedShare, a.agreement, a.accuracy])).toEqual([
      ["original", "control", 0.9, 880, 0.88, null, null],
      ["a".repeat(24), "candidate", 0.1, 120, 0.12, 0.985, 0.97],
    ]);
    expect(x.arms[1]!.latency).toEqual({ p50Ms: 0.6, p95Ms: 1.1, p99Ms: 2 });
    expect(x.history).toEqual([{ at: "2026-11-27T20:00:00.000Z", action: "created", detail: "split 90/10" }]);
  });

  it("shows nothing it cannot read", () => {
    expect(experimentView({ name: "e" })).toEqual({ name: "e", status: null, model: null, mode: null, arms: [], history: [] });
  });
});

describe("latencyHistograms", () => {
  it("turns one experiment's cumulative Prometheus buckets into per-bucket counts in ms, trimming empty ends", () => {
    const h = latencyHistograms(SAMPLE_PROMETHEUS, "mlp-int8");
    expect([...h.keys()]).toEqual(["original"]);
    expect(h.get("original")).toEqual({ edges: [0.5, 1, 2, 4], counts: [300, 500, 80] });
  });

  it("is empty for text without that experiment", () => {
    expect(latencyHistograms(SAMPLE_PROMETHEUS, "nope").size).toBe(0);
    expect(latencyHistograms("", "mlp-int8").size).toBe(0);
  });
});
