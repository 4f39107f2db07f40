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
  name: string;
  variant: string | null;
  /** Configured traffic weight as a fraction of all arms' weights. */
  weight: number | null;
  requests: number | null;
  latency: { edges: number[]; counts: number[] } | null;
  agreement: { x: number; y: number }[];
}

export interface ExperimentView {
  name: string;
  status: string | null;
  model: string | null;
  arms: ArmView[];
}

function histogram(h: unknown): ArmView["latency"] {
  const o = obj(h);
  const edges = (o.edges ?? o.bucketsMs ?? o.buckets) as unknown;
  const counts = o.counts as unknown;
  if (!Array.isArray(edges) || !Array.isArray(counts) || !edges.every((e) => finite(e) !== null) || !counts.every((c) => finite(c) !== null)) return null;
  if (edges.length === counts.length + 1) return { edges: edges as number[], counts: counts as number[] };
  // Upper bounds only (Prometheus style): the first bucket starts at 0.
  if (edges.length === counts.length) return { edges: [0, ...(edges as number[])], counts: counts as number[] };
  return null;
}

function series(s: unknown): { x: number; y: number }[] {
  if (!Array.isArray(s)) return [];
  return s
    .map((p, i) => {
      const o = obj(p);
      const t = typeof o.t === "string" ? Date.parse(o.t) / 1000 : finite(o.t) ?? finite(o.x) ?? i;
      const y = finite(o.agreement) ?? finite(o.value) ?? finite(o.y) ?? (finite(p) as number | null);
      return y === null || !Number.isFinite(t) ? null : { x: t as number, y };
    })
    .filter((p): p is { x: number; y: number } => p !== null);
}

/**
 * Reads an experiment as `{ name, status, model, arms: [{ name, variant, weight }], metrics: { arms: { [name]:
 * { requests, latencyMs: { edges, counts }, agreement: [{ t, value }] } } } }`, with metrics also accepted on the arm.
 */
export function experimentView(raw: unknown): ExperimentView {
  const x = obj(raw);
  const armList: Json[] = Array.isArray(x.arms)
    ? (x.arms as unknown[]).map(obj)
    : Object.entries(obj(x.arms)).map(([name, a]) => ({ name, ...obj(a) }));
  const metrics = obj(obj(x.metrics).arms);
  const totalWeight = armList.reduce((s, a) => s + (finite(a.weight) ?? finite(a.share) ?? 0), 0);
  const arms = armList.map((a, i): ArmView => {
    const name = typeof a.name === "string" ? a.name : `arm ${i + 1}`;
    const m = { ...obj(a.metrics), ...obj(metrics[name]) };
    const weight = finite(a.weight) ?? finite(a.share);
    return {
      name,
      variant: typeof a.variant === "string" ? a.variant : typeof a.variantId === "string" ? a.variantId : null,
      weight: weight !== null && totalWeight > 0 ? weight / totalWeight : null,
      requests: finite(m.requests) ?? finite(m.count),
      latency: histogram(m.latencyMs ?? m.latency ?? m.latencyHistogram),
      agreement: series(m.agreement ?? m.agreementSeries),
    };
  });
  return {
    name: typeof x.name === "string" ? x.name : "experiment",
    status: typeof x.status === "string" ? x.status : null,
    model: typeof x.model === "string" ? x.model : typeof x.modelId === "string" ? x.modelId : null,
    arms,
  };
}
