// What the dashboard shows of the API's records (typed by the routes' schemas) whose optional parts other
// capabilities fill in (a variant's `eval` report, an experiment's metrics): those are read defensively, since a
// report stored by an older version may lack a field; absent values are null and render as "—".
import type { Experiment } from "../routes/experiments";
import type { Variant } from "../routes/schemas";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const finite = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export interface VariantMetrics {
  /** The dataset the report was measured on, and how many samples. */
  dataset: string | null;
  samples: number | null;
  /** Top-1 accuracy of the variant and of FP32 on that dataset (fractions); null without labels. */
  accuracy: number | null;
  fp32Accuracy: number | null;
  /** Accuracy of the variant minus the original's, as a fraction (-0.004 = 0.4 points lost). */
  accuracyDelta: number | null;
  /** Share of inputs where the variant's top-1 equals the original's. */
  agreement: number | null;
  /** Cosine similarity of the first output with FP32's. */
  cosine: number | null;
  /**
   * Median batch-1 latency in ms of the variant and of FP32 in the report; null where the report has none (the
   * isolate's clock could not resolve it, or an older report's 0).
   */
  latencyMs: number | null;
  fp32LatencyMs: number | null;
  /** The engine that serves the variant, and the one that serves the FP32 original (the report's figures are theirs). */
  engine: string | null;
  fp32Engine: string | null;
  residentBytes: number | null;
  /** Bytes on the wire of the stored variant (pruning's stage report), when the record has one. */
  wire: { gzip: number; br: number } | null;
}

/** Reads a variant's `eval` report (worker/evaluate/report.ts), its engine and `stages.encoded`. */
export function variantMetrics(v: Partial<Variant>): VariantMetrics {
  const e = obj(v.eval);
  const acc = obj(e.accuracy);
  const accuracy = finite(acc.variant);
  const fp32Accuracy = finite(acc.fp32);
  const latency = obj(e.latencyMs);
  const measured = (x: unknown) => (finite(x) !== null && finite(x)! > 0 ? finite(x) : null);
  const encoded = obj(obj(v.stages).encoded);
  const firstOutput = Array.isArray(e.outputs) ? obj(e.outputs[0]) : {};
  return {
    dataset: typeof e.dataset === "string" ? e.dataset : null,
    samples: finite(e.samples),
    accuracy,
    fp32Accuracy,
    accuracyDelta: accuracy !== null && fp32Accuracy !== null ? accuracy - fp32Accuracy : null,
    agreement: finite(e.agreement),
    cosine: finite(firstOutput.cosine),
    latencyMs: measured(latency.variant),
    fp32LatencyMs: measured(latency.fp32),
    engine: typeof e.engine === "string" ? e.engine : typeof v.engine === "string" ? v.engine : null,
    fp32Engine: typeof e.fp32Engine === "string" ? e.fp32Engine : null,
    residentBytes: finite(e.residentBytes) ?? finite(v.residentBytes),
    wire: finite(encoded.gzip) !== null && finite(encoded.br) !== null ? { gzip: finite(encoded.gzip)!, br: finite(encoded.br)! } : null,
  };
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
 * Reads GET /v1/experiments/:name (the experiments route's ExperimentSchema); histograms come from the Prometheus text
 * (see latencyHistograms).
 */
export function experimentView(raw: Partial<Experiment>, histograms: Map<string, Histogram> = new Map()): ExperimentView {
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

export interface ParameterState {
  state: "compressed" | "float";
  /** What happened to these parameters: "int8", "pruned (kept float)", or the reason they were left float. */
  label: string;
  elements: number;
  /** Of all the model's parameters. */
  share: number;
  /** The weights in this state, by name. */
  weights: string[];
}

export interface ParameterStates {
  /** The model's parameters (or the weights the reports account for, where bodies and Constant nodes hold more). */
  total: number;
  rows: ParameterState[];
  /** What compression left float without a size in the record (an activation, or a record made before sizes were kept). */
  unsized: { name: string; reason: string }[];
}

/**
 * A variant's parameters by state, from its reports: compressed (each quantized weight's elements by bit-width from
 * `tensors`, weights pruned but not quantized from `prune.layers`), left float with each reason (`skipped` and
 * `prune.skipped`, with their `elements`), and the rest of the model's parameters, which no recipe compresses.
 */
export function parameterStates(v: Partial<Variant>, parameters: number): ParameterStates {
  const seen = new Set<string>();
  const groups = new Map<string, ParameterState>();
  const add = (state: ParameterState["state"], label: string, name: string, elements: number) => {
    if (seen.has(name)) return;
    seen.add(name);
    const key = `${state}\n${label}`;
    const row = groups.get(key) ?? { state, label, elements: 0, share: 0, weights: [] };
    row.elements += elements;
    row.weights.push(name);
    groups.set(key, row);
  };
  const list = (x: unknown) => (Array.isArray(x) ? (x as unknown[]).map(obj) : []);
  const str = (x: unknown) => (typeof x === "string" ? x : null);
  for (const t of list(v.tensors)) {
    const shape = Array.isArray(t.shape) ? (t.shape as unknown[]).map((d) => finite(d) ?? 0) : [];
    const cb = obj(t.codebook);
    const kind = t.codebook ? (finite(cb.subvector) !== null ? `pq ${cb.subvector}x${cb.centroids}` : `${t.bits}-bit codebook`) : `int${t.bits}`;
    if (str(t.name) && finite(t.bits) !== null) add("compressed", kind, t.name as string, shape.reduce((a, b) => a * b, 1));
  }
  const prune = obj(v.prune);
  for (const l of list(prune.layers)) {
    if (str(l.name) && finite(l.elements) !== null) add("compressed", "pruned (kept float)", l.name as string, l.elements as number);
  }
  const unsized: ParameterStates["unsized"] = [];
  for (const s of [...list(v.skipped), ...list(prune.skipped)]) {
    const name = str(s.name);
    if (!name || seen.has(name)) continue;
    const reason = str(s.reason) ?? "no reason recorded";
    const elements = finite(s.elements);
    if (elements === null) unsized.push({ name, reason });
    else add("float", reason, name, elements);
  }
  const rows = [...groups.values()];
  const accounted = rows.reduce((sum, r) => sum + r.elements, 0);
  if (parameters > accounted) {
    rows.push({ state: "float", label: "not a weight any recipe compresses (biases, norms, other tensors)", elements: parameters - accounted, share: 0, weights: [] });
  }
  const total = Math.max(parameters, accounted);
  for (const r of rows) r.share = total > 0 ? r.elements / total : 0;
  // Compressed first, then the float rows, largest first.
  rows.sort((a, b) => (a.state === b.state ? b.elements - a.elements : a.state === "compressed" ? -1 : 1));
  return { total, rows, unsized };
}

/** How a variant's levels were chosen: the columns of the rounding comparison ("-quantized": on quantized inputs). */
export const ROUNDINGS = [
  "nearest",
  "gptq",
  "adaround",
  "gptq-quantized",
  "adaround-quantized",
  "nearest+bias",
  "gptq+bias",
  "adaround+bias",
  "gptq-quantized+bias",
  "adaround-quantized+bias",
] as const;
export type RoundingName = (typeof ROUNDINGS)[number];

/** One recipe measured with more than one rounding: each rounding's variant and metrics. */
export interface RoundingComparison {
  /** The recipe with rounding, bias correction and calibration left out, as the API returns it. */
  recipe: Json;
  variants: Partial<Record<RoundingName, { v: Partial<Variant>; m: VariantMetrics }>>;
}

/**
 * Variants that differ only in how their levels were chosen (nearest, GPTQ or AdaRound rounding on float or quantized
 * inputs, with or without bias correction), grouped by the rest of their recipe: what the dashboard shows side by side. Groups of one are left out.
 */
export function roundingComparisons(variants: readonly Partial<Variant>[]): RoundingComparison[] {
  const groups = new Map<string, RoundingComparison>();
  for (const v of variants) {
    const recipe = obj(v.recipe);
    const q = obj(recipe.quantize);
    if (typeof q.bits !== "number") continue;
    const { method, inputs } = obj(q.rounding);
    const compensated = method === "gptq" || method === "adaround" ? `${method}${inputs === "quantized" ? "-quantized" : ""}` : "nearest";
    const rounding = `${compensated}${q.biasCorrection === true ? "+bias" : ""}` as RoundingName;
    const { rounding: _r, biasCorrection: _b, calibration: _c, ...rest } = q;
    const base = { ...recipe, quantize: rest };
    const key = JSON.stringify(base, Object.keys(flatKeys(base)).sort());
    const group: RoundingComparison = groups.get(key) ?? { recipe: base, variants: {} };
    group.variants[rounding] ??= { v, m: variantMetrics(v) };
    groups.set(key, group);
  }
  return [...groups.values()].filter((g) => Object.keys(g.variants).length > 1);
}

/** Every key at any depth (a stable key order for JSON.stringify's replacer list). */
function flatKeys(value: unknown, out: Json = {}): Json {
  if (value === null || typeof value !== "object") return out;
  for (const [k, v] of Object.entries(value)) {
    out[k] = true;
    flatKeys(v, out);
  }
  return out;
}
