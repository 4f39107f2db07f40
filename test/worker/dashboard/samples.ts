// Sample records in the shapes the API serves (the routes' schemas, /v1/metrics text).
import type { Experiment } from "@worker/routes/experiments";
import type { EvalReport, Variant } from "@worker/routes/schemas";
/** An experiment as GET /v1/experiments/:name answers it (the experiments route's ExperimentSchema). */
export const SAMPLE_EXPERIMENT = {
  name: "mlp-int8",
  model: "m".repeat(24),
  mode: "split",
  status: "running",
  control: "original",
  agreementSample: 0.1,
  arms: [
    { variant: "original", weight: 90 },
    { variant: "a".repeat(24), weight: 10 },
  ],
  results: [
    {
      variant: "original", role: "control", weight: 90, share: 0.88, requests: 880, served: 880, errors: 0, errorRate: 0, errorRateCi: null,
      latency: { count: 880, meanMs: 1.4, p50Ms: 1.2, p95Ms: 2.5, p99Ms: 4 }, agreement: null,
      accuracy: { labelled: 0, correct: 0, rate: null, ci: null }, verdict: null,
    },
    {
      variant: "a".repeat(24), role: "candidate", weight: 10, share: 0.12, requests: 120, served: 120, errors: 0, errorRate: 0, errorRateCi: null,
      latency: { count: 120, meanMs: 0.7, p50Ms: 0.6, p95Ms: 1.1, p99Ms: 2 },
      agreement: { compared: 100, rows: 100, top1Rate: 0.985, top1Ci: null, meanCosine: 0.999, maxAbsDiff: 0.01 },
      accuracy: { labelled: 100, correct: 97, rate: 0.97, ci: null }, verdict: null,
    },
  ],
  history: [{ at: "2026-11-27T20:00:00.000Z", action: "created", detail: "split 90/10" }],
  version: 1,
  createdAt: "2026-11-27T20:00:00.000Z",
  updatedAt: "2026-11-27T20:00:00.000Z",
} satisfies Experiment;

/** /v1/metrics text for that experiment: cumulative buckets in seconds, plus another experiment's series to ignore. */
export const SAMPLE_PROMETHEUS = [
  "# TYPE slimserve_experiment_latency_seconds histogram",
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="0.0005"} 0',
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="0.001"} 300',
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="0.002"} 800',
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="0.004"} 880',
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="0.008"} 880',
  'slimserve_experiment_latency_seconds_bucket{experiment="mlp-int8",model="m",variant="original",arm="control",le="+Inf"} 880',
  'slimserve_experiment_latency_seconds_bucket{experiment="other",model="m",variant="original",arm="control",le="0.001"} 5',
].join("\n");

/** A model and three variant records as the API answers them (less `residentBytes`): int8 with an `eval` report
 * (worker/evaluate/report.ts), prune 50% + int8 with `stages` and an `eval`, and an int8 static variant not evaluated. */
export const SAMPLE_MODEL = {
  id: "0123456789abcdef01234567",
  name: "demo-mlp",
  sha256: "0".repeat(64),
  bytes: 38825,
  irVersion: 8,
  opset: [{ domain: "", version: 13 }],
  inputs: [{ name: "input", type: "float32", shape: ["N", 64] }],
  outputs: [{ name: "logits", type: "float32", shape: ["N", 10] }],
  parameters: 9610,
  ops: { Gemm: 1, MatMul: 1 },
  createdAt: "2026-11-27T20:00:00.000Z",
  variants: [],
};

const report = (variant: number, agreement: number, latency: number): EvalReport => ({
  dataset: "d".repeat(24),
  samples: 200,
  hasLabels: true,
  accuracy: { fp32: 0.9, variant, drop: 100 * (0.9 - variant) },
  agreement,
  intervals: { confidence: 0.95, accuracyDrop: [100 * (0.9 - variant) - 1.2, 100 * (0.9 - variant) + 1.2], agreement: [agreement - 0.03, Math.min(1, agreement + 0.03)] },
  outputs: [{ name: "logits", cosine: 0.9999, maxAbsError: 0.02 }],
  layers: [],
  bytes: 11601,
  fp32Bytes: 38825,
  compressionRatio: 3.35,
  residentBytes: 155300,
  latencyMs: { fp32: latency * 2, variant: latency, runs: 25 },
  // The variant is served by the kernel engine, the original by onnxruntime-web: the report names both.
  engine: "kernels",
  fp32Engine: "onnxruntime-web",
  evaluatedAt: "2026-11-27T20:01:00.000Z",
});

export const SAMPLE_VARIANTS = [
  {
    id: "a".repeat(24), modelId: SAMPLE_MODEL.id, sha256: "1".repeat(64), bits: 8, bytes: 11601, compressionRatio: 38825 / 11601,
    createdAt: "2026-11-27T20:01:00.000Z", recipe: { quantize: { bits: 8, scheme: "weight-only", granularity: "per-channel", symmetric: true } },
    engine: "kernels", eval: report(0.895, 0.99, 1),
    // fc0.weight [64, 128] quantized; head.weight [10, 128] excluded; 138 biases are no weight any recipe compresses.
    tensors: [{ name: "fc0.weight", node: "fc0/MatMul", op: "MatMul", shape: [64, 128], axis: 1, bits: 8, scaleMin: 0.001, scaleMax: 0.002, maxAbsError: 0.001, sqnrDb: 40 }],
    skipped: [{ name: "head.weight", node: "head/Gemm", reason: "excluded by the recipe", elements: 1280 }],
  },
  {
    id: "b".repeat(24), modelId: SAMPLE_MODEL.id, sha256: "2".repeat(64), bits: 8, bytes: 11601, compressionRatio: 38825 / 11601,
    createdAt: "2026-11-27T20:02:00.000Z", recipe: { prune: { sparsity: 0.5 }, quantize: { bits: 8, scheme: "weight-only" } },
    engine: "kernels", tensors: [], skipped: [], eval: report(0.8, 0.85, 0),
    stages: { denseFp32: 38825, pruned: 38825, quantized: 11601, stored: 11601, encoded: { gzip: 7800, br: 7700 } },
  },
  {
    id: "c".repeat(24), modelId: SAMPLE_MODEL.id, sha256: "3".repeat(64), bits: 8, bytes: 12099, compressionRatio: 38825 / 12099,
    createdAt: "2026-11-27T20:03:00.000Z", recipe: { quantize: { bits: 8, scheme: "static", calibration: { dataset: "d".repeat(24) } } },
    engine: "onnxruntime-web", tensors: [], skipped: [{ name: "input", node: "input", reason: "no calibrated range for this activation" }],
  },
] satisfies Partial<Variant>[];

/** int4 block-32 three ways (nearest, GPTQ, GPTQ + bias correction) beside SAMPLE_VARIANTS: the rounding comparison. */
const int4 = (id: string, bytes: number, extra: Record<string, unknown>, accuracy: number) => ({
  id: id.repeat(24), modelId: SAMPLE_MODEL.id, sha256: "4".repeat(64), bits: 4, bytes, compressionRatio: 38825 / bytes,
  createdAt: "2026-11-27T20:04:00.000Z", recipe: { quantize: { bits: 4, scheme: "weight-only", granularity: { block: 32 }, symmetric: true, ...extra } },
  engine: "kernels" as const, tensors: [], skipped: [], eval: report(accuracy, 0.97, 1),
});
const CALIBRATION = { calibration: { dataset: "d".repeat(24), method: "minmax", samples: 256 } };
export const SAMPLE_ROUNDINGS = [
  int4("e", 6200, {}, 0.87),
  int4("f", 6200, { rounding: { method: "gptq", dampening: 0.01, actOrder: false }, ...CALIBRATION }, 0.885),
  int4("9", 6232, { rounding: { method: "gptq", dampening: 0.01, actOrder: false }, biasCorrection: true, ...CALIBRATION }, 0.89),
] satisfies Partial<Variant>[];

