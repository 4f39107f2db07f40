// Prometheus text exposition (format 0.0.4) of every experiment's per-arm metrics, labelled by experiment,
// model, variant and arm role. Latency is exposed in seconds at every 4th bucket bound (a factor of 2 apart);
// those are bounds of the stored histogram, so the cumulative counts are exact.
import type { ExperimentConfig } from "./config";
import { emptyArmMetrics, type ArmMetrics } from "./arm-metrics";
import { LATENCY_BOUNDS_MS } from "./stats";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const EXPOSED_BOUNDS = LATENCY_BOUNDS_MS.map((ms, i) => ({ ms, i })).filter(({ i }) => i % 4 === 0);

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(",")}}`;

const FAMILIES: { name: string; type: "counter" | "gauge"; help: string; value: (m: ArmMetrics) => number }[] = [
  { name: "slimserve_experiment_requests_total", type: "counter", help: "Runs of the arm (answering, shadow or sampled control).", value: (m) => m.requests },
  { name: "slimserve_experiment_served_total", type: "counter", help: "Requests the arm answered.", value: (m) => m.served },
  { name: "slimserve_experiment_errors_total", type: "counter", help: "Runs of the arm that failed.", value: (m) => m.errors },
  { name: "slimserve_experiment_agreement_rows_total", type: "counter", help: "Output rows compared with the control.", value: (m) => m.agreement.rows },
  { name: "slimserve_experiment_agreement_top1_total", type: "counter", help: "Compared rows whose top-1 matched the control's.", value: (m) => m.agreement.top1Matches },
  { name: "slimserve_experiment_agreement_cosine_mean", type: "gauge", help: "Mean cosine similarity to the control's output.", value: (m) => (m.agreement.compared ? m.agreement.cosineSum / m.agreement.compared : 0) },
  { name: "slimserve_experiment_agreement_max_abs_diff", type: "gauge", help: "Largest absolute difference from the control's output.", value: (m) => m.agreement.maxAbsDiff },
  { name: "slimserve_experiment_feedback_rows_total", type: "counter", help: "Labelled rows from feedback.", value: (m) => m.feedback.rows },
  { name: "slimserve_experiment_feedback_correct_total", type: "counter", help: "Labelled rows the arm's top-1 got right.", value: (m) => m.feedback.correct },
];

export function renderPrometheus(experiments: { config: ExperimentConfig; metrics: Record<string, ArmMetrics> }[]): string {
  const series = experiments.flatMap(({ config, metrics }) =>
    config.arms.map((a) => ({
      labels: { experiment: config.name, model: config.model, variant: a.variant, arm: a.variant === config.control ? "control" : "candidate" },
      weight: a.weight,
      m: metrics[a.variant] ?? emptyArmMetrics(),
    })),
  );
  const lines: string[] = [];
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of series) lines.push(`${f.name}${labels(s.labels)} ${f.value(s.m)}`);
  }
  lines.push("# HELP slimserve_experiment_weight Configured traffic weight of the arm.", "# TYPE slimserve_experiment_weight gauge");
  for (const s of series) lines.push(`slimserve_experiment_weight${labels(s.labels)} ${s.weight}`);
  const h = "slimserve_experiment_latency_seconds";
  lines.push(`# HELP ${h} Latency of the arm's successful runs.`, `# TYPE ${h} histogram`);
  for (const s of series) {
    let cumulative = 0;
    let next = 0;
    for (const { ms, i } of EXPOSED_BOUNDS) {
      for (; next <= i; next++) cumulative += s.m.latency[next] ?? 0;
      lines.push(`${h}_bucket${labels({ ...s.labels, le: String(ms / 1000) })} ${cumulative}`);
    }
    const count = s.m.requests - s.m.errors;
    lines.push(`${h}_bucket${labels({ ...s.labels, le: "+Inf" })} ${count}`);
    lines.push(`${h}_sum${labels(s.labels)} ${s.m.latencySumMs / 1000}`);
    lines.push(`${h}_count${labels(s.labels)} ${count}`);
  }
  return `${lines.join("\n")}\n`;
}
