// Sample records in the shapes the experiments capability serves (its ExperimentSchema and /v1/metrics text).
/** An experiment as GET /v1/experiments/:name answers it (the experiments route's ExperimentSchema). */
export const SAMPLE_EXPERIMENT = {
  name: "mlp-int8",
  model: "m".repeat(24),
  mode: "split",
  status: "running",
  control: "original",
  arms: [
    { variant: "original", weight: 90 },
    { variant: "a".repeat(24), weight: 10 },
  ],
  results: [
    { variant: "original", role: "control", served: 880, latency: { p50Ms: 1.2, p95Ms: 2.5, p99Ms: 4 }, agreement: null, accuracy: { rate: null } },
    { variant: "a".repeat(24), role: "candidate", served: 120, latency: { p50Ms: 0.6, p95Ms: 1.1, p99Ms: 2 }, agreement: { top1Rate: 0.985 }, accuracy: { rate: 0.97 } },
  ],
  history: [{ at: "2026-11-27T20:00:00.000Z", action: "created", detail: "split 90/10" }],
};

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

/** A model and three variant records as the API answers them: int8 with an `eval` report (worker/evaluate/report.ts),
 * prune 50% + int8 with `stages` and an `eval`, and an int8 static variant not evaluated. */
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

const report = (variant: number, agreement: number, latency: number) => ({
  dataset: "d".repeat(24),
  samples: 200,
  hasLabels: true,
  accuracy: { fp32: 0.9, variant, drop: 100 * (0.9 - variant) },
  agreement,
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
    engine: "kernels", tensors: [], skipped: [], eval: report(0.895, 0.99, 1),
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
    engine: "onnxruntime-web", tensors: [], skipped: [],
  },
];
