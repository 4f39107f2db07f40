// Reading optional report fields for display: absent parts are null (shown as "—"), known spellings are read.
import { describe, expect, it } from "vitest";
import { experimentView, recipeText, variantMetrics } from "../../../worker/dashboard/metrics";

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
  it("normalizes arm weights to shares and reads per-arm metrics", () => {
    const x = experimentView({
      name: "mlp-int8",
      status: "running",
      model: "abc",
      arms: [
        { name: "control", weight: 90 },
        { name: "int8", variant: "v1", weight: 10 },
      ],
      metrics: {
        arms: {
          control: { requests: 900, latencyMs: { edges: [0, 1, 2], counts: [800, 100] } },
          int8: { requests: 100, agreement: [{ t: 0, value: 1 }, { t: 60, value: 0.98 }] },
        },
      },
    });
    expect(x).toMatchObject({ name: "mlp-int8", status: "running", model: "abc" });
    expect(x.arms.map((a) => [a.name, a.variant, a.weight, a.requests])).toEqual([
      ["control", null, 0.9, 900],
      ["int8", "v1", 0.1, 100],
    ]);
    expect(x.arms[0]!.latency).toEqual({ edges: [0, 1, 2], counts: [800, 100] });
    expect(x.arms[1]!.agreement).toEqual([{ x: 0, y: 1 }, { x: 60, y: 0.98 }]);
  });

  it("accepts upper-bound-only histogram buckets, starting the first at zero", () => {
    const x = experimentView({ name: "e", arms: [{ name: "a", metrics: { latencyMs: { buckets: [1, 5], counts: [3, 4] } } }] });
    expect(x.arms[0]!.latency).toEqual({ edges: [0, 1, 5], counts: [3, 4] });
  });

  it("shows nothing it cannot read", () => {
    expect(experimentView({ name: "e" })).toEqual({ name: "e", status: null, model: null, arms: [] });
  });
});
