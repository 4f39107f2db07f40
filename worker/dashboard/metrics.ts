// What the dashboard shows of records whose optional parts other capabilities fill in (a variant's `eval` report, an
// experiment's metrics): read defensively, absent values are null and render as "—".

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const finite = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export interface VariantMetrics {
  /** Accuracy of the variant minus the original's, as a fraction (-0.004 = 0.4 points lost). */
  accuracyDelta: number | null;
  /** Share of inputs where the variant's top-1 equals the original's. */
  agreement: number | null;
  /** Median (else mean) latency in milliseconds. */
  latencyMs: number | null;
  engine: string | null;
  residentBytes: number | null;
}

/** Reads `eval: { accuracy, baselineAccuracy | accuracyDelta, agreement, latencyMs: number | {p50, mean} }`. */
export function variantMetrics(variant: unknown): VariantMetrics {
  const v = obj(variant);
  const e = obj(v.eval);
  const accuracy = finite(e.accuracy) ?? finite(obj(e.accuracy).variant);
  const baseline = finite(e.baselineAccuracy) ?? finite(e.referenceAccuracy) ?? finite(obj(e.accuracy).reference);
  const latency = finite(e.latencyMs) ?? finite(obj(e.latencyMs).p50) ?? finite(obj(e.latencyMs).mean) ?? finite(obj(e.latency).p50Ms);
  return {
    accuracyDelta: finite(e.accuracyDelta) ?? (accuracy !== null && baseline !== null ? accuracy - baseline : null),
    agreement: finite(e.agreement) ?? finite(obj(e.agreement).top1),
    latencyMs: latency,
    engine: typeof v.engine === "string" ? v.engine : null,
    residentBytes: finite(v.residentBytes),
  };
}

/** A recipe in a few words: "int8 weight-only per-channel", "prune 50% + int8". */
export function recipeText(recipe: unknown): string {
  const r = obj(recipe);
  const parts: string[] = [];
  const prune = obj(r.prune);
  if (Object.keys(prune).length) parts.push(`prune ${finite(prune.sparsity) !== null ? `${Math.round(finite(prune.sparsity)! * 100)}%` : ""}`.trim());
  const q = obj(r.quantize);
  if (Object.keys(q).length) {
    parts.push([`int${String(q.bits ?? "?")}`, q.scheme, q.granularity].filter((s) => typeof s === "string" && s).join(" "));
  }
  return parts.length ? parts.join(" + ") : Object.keys(r).length ? JSON.stringify(r) : "—";
}

export interface ArmView {
  /** The arm's variant id, or "original". */
  variant: string;
  role: "control" | "candidate" | null;
  /** Configured traffic weight as a fraction of all arms' weights. */
  weight: number | null;
  /** Requests the arm answered, and their share of all answered requests. */
  served: number | null;
  servedShare: number | null;
  latency: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null };
  /** Top-1 agreement with the control (null for the control itself or before any comparison). */
  agreement: number | null;
  accuracy: number | null;
  latencyHistogram: Histogram | null;
}

export interface Histogram {
  /** Bucket edges in milliseconds (edges.length === counts.length + 1). */
  edges: number[];
  counts: number[];
}

export interface ExperimentView {
  name: string;
  status: string | null;
  model: string | null;
  mode: string | null;
  arms: ArmView[];
  history: { at: string; action: string; detail: string }[];
}

/**
 * Reads GET /v1/experiments/:name: `{ name, model, mode, status, control, arms: [{ variant, weight }], results:
 * [{ variant, role, served, latency: { p50Ms, p95Ms, p99Ms }, agreement: { top1Rate } | null, accuracy: { rate } }],
 * history }`; histograms come from the Prometheus text (see latencyHistograms).
 */
export function experimentView(raw: unknown, histograms: Map<string, Histogram> = new Map()): ExperimentView {
  const x = obj(raw);
  const arms = (Array.isArray(x.arms) ? (x.arms as unknown[]) : []).map(obj).filter((a) => typeof a.variant === "string");
  const results = new Map((Array.isArray(x.results) ? (x.results as unknown[]) : []).map(obj).map((r) => [r.variant, r]));
  const totalWeight = arms.reduce((s, a) => s + (finite(a.weight) ?? 0), 0);
  const totalServed = [...results.values()].reduce((s, r) => s + (finite(r.served) ?? 0), 0);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    name: str(x.name) ?? "experiment",
    status: str(x.status),
    model: str(x.model),
    mode: str(x.mode),
    arms: arms.map((a): ArmView => {
      const variant = a.variant as string;
      const r = results.get(variant) ?? {};
      const weight = finite(a.weight);
      const served = finite(r.served);
      const latency = obj(r.latency);
      return {
        variant,
        role: r.role === "control" || r.role === "candidate" ? r.role : variant === x.control ? "control" : null,
        weight: weight !== null && totalWeight > 0 ? weight / totalWeight : null,
        served,
        servedShare: served !== null && totalServed > 0 ? served / totalServed : null,
        latency: { p50Ms: finite(latency.p50Ms), p95Ms: finite(latency.p95Ms), p99Ms: finite(latency.p99Ms) },
        agreement: finite(obj(r.agreement).top1Rate),
        accuracy: finite(obj(r.accuracy).rate),
        latencyHistogram: histograms.get(variant) ?? null,
      };
    }),
    history: (Array.isArray(x.history) ? (x.history as unknown[]) : [])
      .map(obj)
      .map((h) => ({ at: str(h.at) ?? "", action: str(h.action) ?? "", detail: str(h.detail) ?? "" })),
  };
}

/**
 * Per-variant latency histograms of one experiment from /v1/metrics (Prometheus text): the cumulative
 * `slimserve_experiment_latency_seconds_bucket` counts become per-bucket counts in ms, empty buckets at both ends
 * dropped; the +Inf bucket is left out.
 */
export function latencyHistograms(text: string, experiment: string): Map<string, Histogram> {
  const buckets = new Map<string, { le: number; cumulative: number }[]>();
  const line = /^slimserve_experiment_latency_seconds_bucket\{([^}]*)\}\s+(\S+)$/;
  for (const row of text.split("\n")) {
    const m = line.exec(row.trim());
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.experiment !== experiment || !labels.variant || labels.le === "+Inf") continue;
    const list = buckets.get(labels.variant) ?? [];
    list.push({ le: Number(labels.le) * 1000, cumulative: Number(m[2]) });
    buckets.set(labels.variant, list);
  }
  const out = new Map<string, Histogram>();
  for (const [variant, list] of buckets) {
    list.sort((a, b) => a.le - b.le);
    const edges = [0, ...list.map((b) => Number(b.le.toPrecision(6)))];
    const counts = list.map((b, i) => b.cumulative - (i > 0 ? list[i - 1]!.cumulative : 0));
    let first = counts.findIndex((c) => c > 0);
    if (first < 0) continue;
    const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
    first = Math.max(0, first);
    out.set(variant, { edges: edges.slice(first, last + 2), counts: counts.slice(first, last + 1) });
  }
  return out;
}
