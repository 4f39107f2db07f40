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
