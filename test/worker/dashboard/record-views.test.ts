// Reading optional report fields for display: absent parts are null (shown as "—"), known spellings are read.
import { describe, expect, it } from "vitest";
import { experimentView, latencyHistograms, parameterStates, roundingComparisons, variantMetrics } from "@worker/dashboard/record-views";
import type { Variant } from "@worker/routes/schemas";
import { SAMPLE_EXPERIMENT, SAMPLE_PROMETHEUS, SAMPLE_ROUNDINGS, SAMPLE_VARIANTS } from "./samples";

describe("variantMetrics", () => {
  it("is all null for a variant without an evaluation, except its engine", () => {
    expect(variantMetrics({ id: "v", bits: 8, engine: "onnxruntime-web" })).toEqual({
      dataset: null,
      samples: null,
      accuracy: null,
      fp32Accuracy: null,
      accuracyDelta: null,
      agreement: null,
      cosine: null,
      latencyMs: null,
      fp32LatencyMs: null,
      engine: "onnxruntime-web",
      fp32Engine: null,
      residentBytes: null,
      wire: null,
    });
  });

  it("reads an evaluation report: accuracies and their difference, agreement, cosine, latency, the engines of variant and original", () => {
    const m = variantMetrics(SAMPLE_VARIANTS[0]!);
    expect(m).toMatchObject({ dataset: "d".repeat(24), samples: 200, accuracy: 0.895, fp32Accuracy: 0.9, agreement: 0.99, cosine: 0.9999 });
    expect(m.accuracyDelta).toBeCloseTo(-0.005, 12);
    expect(m).toMatchObject({ latencyMs: 1, fp32LatencyMs: 2, engine: "kernels", fp32Engine: "onnxruntime-web", residentBytes: 155300, wire: null });
  });

  it("reads a latency of 0 (below the Worker clock's resolution) as not measured, and the wire sizes of stages", () => {
    expect(variantMetrics(SAMPLE_VARIANTS[1]!)).toMatchObject({ latencyMs: null, fp32LatencyMs: null, wire: { gzip: 7800, br: 7700 } });
  });

  it("has no accuracy for a report without labels, and ignores values that are not finite numbers", () => {
    const e = { ...SAMPLE_VARIANTS[0]!.eval, accuracy: null, agreement: "high", latencyMs: { variant: Number.NaN } };
    // A report with values of the wrong kind (the record is read defensively).
    expect(variantMetrics({ eval: e } as unknown as Variant)).toMatchObject({ accuracy: null, accuracyDelta: null, agreement: null, latencyMs: null });
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

describe("parameterStates", () => {
  const NOT_A_WEIGHT = "not a weight any recipe compresses (biases, norms, other tensors)";

  it("splits the model's parameters into quantized weights, weights left float by reason, and the rest", () => {
    const states = parameterStates(SAMPLE_VARIANTS[0]!, 9610);
    expect(states.total).toBe(9610);
    expect(states.rows.map((r) => [r.state, r.label, r.elements, r.weights])).toEqual([
      ["compressed", "int8", 64 * 128, ["fc0.weight"]],
      ["float", "excluded by the recipe", 1280, ["head.weight"]],
      ["float", NOT_A_WEIGHT, 9610 - 64 * 128 - 1280, []],
    ]);
    expect(states.rows.map((r) => r.share)).toEqual([8192 / 9610, 1280 / 9610, 138 / 9610]);
    expect(states.unsized).toEqual([]);
  });

  it("counts a pruned weight that is also quantized once, under its bit-width, and a pruned-only weight as pruned", () => {
    const v = {
      tensors: [{ name: "a", node: "a/MatMul", op: "MatMul", shape: [10, 10], axis: 1, bits: 4, scaleMin: 0, scaleMax: 0, maxAbsError: 0, sqnrDb: null }],
      skipped: [{ name: "b", node: "b/MatMul", reason: "weight is not float32", elements: 7 }],
      prune: {
        sparsity: 0.5,
        layers: [
          { name: "a", node: "a/MatMul", op: "MatMul", shape: [10, 10], structure: "unstructured", target: 0.5, sparsity: 0.5, zeros: 50, elements: 100 },
          { name: "c", node: "c/Conv", op: "Conv", shape: [4, 5], structure: "unstructured", target: 0.5, sparsity: 0.5, zeros: 10, elements: 20 },
        ],
        skipped: [{ name: "b", node: "b/MatMul", reason: "too small to prune", elements: 7 }],
        sparseTensors: [],
      },
    } as unknown as Variant;
    const states = parameterStates(v, 127);
    expect(states.rows.map((r) => [r.label, r.elements])).toEqual([
      ["int4", 100],
      ["pruned (kept float)", 20],
      ["weight is not float32", 7],
    ]);
  });

  it("names codebook and product-quantized weights by their kind, not as an integer width", () => {
    const tensor = { node: "n", op: "MatMul", axis: 1, scaleMin: 0, scaleMax: 0, maxAbsError: 0, sqnrDb: null };
    const v = {
      tensors: [
        { ...tensor, name: "a", shape: [10, 10], bits: 4, codebook: { scope: "per-layer", centroids: 16, codebooks: 1, indexBits: 4, indexBytes: 50, codebookBytes: 64 } },
        { ...tensor, name: "b", shape: [16, 8], bits: 1, codebook: { scope: "per-layer", centroids: 256, codebooks: 1, indexBits: 8, indexBytes: 16, codebookBytes: 4096, subvector: 8 } },
      ],
      skipped: [],
    } as unknown as Variant;
    expect(parameterStates(v, 228).rows.map((r) => [r.label, r.elements])).toEqual([
      ["pq 8x256", 128],
      ["4-bit codebook", 100],
    ]);
  });

  it("lists what was left float without a size (an activation, an older record) apart, and never counts more than 100%", () => {
    const states = parameterStates(SAMPLE_VARIANTS[2]!, 9610);
    expect(states.rows.map((r) => [r.label, r.share])).toEqual([[NOT_A_WEIGHT, 1]]);
    expect(states.unsized).toEqual([{ name: "input", reason: "no calibrated range for this activation" }]);
    // Weights in bodies or Constant nodes are not among the model's counted parameters: the total grows to hold them.
    const more = parameterStates(SAMPLE_VARIANTS[0]!, 100);
    expect(more.total).toBe(8192 + 1280);
    expect(more.rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 12);
  });
});

describe("roundingComparisons", () => {
  it("groups variants that differ only in rounding, bias correction and calibration, by the rest of their recipe", () => {
    const groups = roundingComparisons([...SAMPLE_VARIANTS, ...SAMPLE_ROUNDINGS] as Partial<Variant>[]);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.recipe).toEqual({ quantize: { bits: 4, scheme: "weight-only", granularity: { block: 32 }, symmetric: true } });
    expect(Object.fromEntries(Object.entries(groups[0]!.variants).map(([r, x]) => [r, x!.v.id]))).toEqual({ nearest: "e".repeat(24), gptq: "f".repeat(24), "gptq+bias": "9".repeat(24) });
  });

  it("leaves recipes made one way only, and recipes that differ in anything else apart", () => {
    expect(roundingComparisons(SAMPLE_VARIANTS as Partial<Variant>[])).toEqual([]);
    const [nearest, gptq] = SAMPLE_ROUNDINGS as [(typeof SAMPLE_ROUNDINGS)[number], (typeof SAMPLE_ROUNDINGS)[number]];
    const coarser = { ...gptq, recipe: { quantize: { ...gptq.recipe.quantize, granularity: { block: 64 } } } };
    expect(roundingComparisons([nearest, coarser] as Partial<Variant>[])).toEqual([]);
  });
});

