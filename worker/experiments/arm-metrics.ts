// Per-arm metrics: the counters an event adds to (pure, so the Durable Object applies a batch atomically
// and Node tests check the arithmetic) and the summary with intervals and verdicts that GET returns.
import type { ExperimentConfig } from "./config";
import { emptyHistogram, LATENCY_BUCKETS, observe, quantile, twoProportionTest, wilson } from "./stats";
import type { Agreement } from "./agreement";

export interface ArmMetrics {
  /** Times the arm ran: answering, as a shadow, or as the sampled control in split mode. */
  requests: number;
  /** Times the arm's answer went to the client. */
  served: number;
  errors: number;
  /** Latency of successful runs, bucket counts (see stats.ts LATENCY_BOUNDS_MS). */
  latency: number[];
  latencySumMs: number;
  agreement: { compared: number; rows: number; top1Matches: number; cosineSum: number; maxAbsDiff: number };
  feedback: { rows: number; correct: number };
}

export interface ArmRun {
  arm: string;
  served: boolean;
  ok: boolean;
  ms: number;
  /** Argmax per row of the first output (kept for scoring feedback). */
  top1?: number[];
}

/** What one inference request contributes, sent after the answer. */
export interface MetricEvent {
  requestId: string;
  runs: ArmRun[];
  /** Comparisons against the control on the same input. */
  agreement: ({ arm: string } & Agreement)[];
}

export function emptyArmMetrics(): ArmMetrics {
  return {
    requests: 0,
    served: 0,
    errors: 0,
    latency: emptyHistogram(),
    latencySumMs: 0,
    agreement: { compared: 0, rows: 0, top1Matches: 0, cosineSum: 0, maxAbsDiff: 0 },
    feedback: { rows: 0, correct: 0 },
  };
}

/** Adds one event to the arms it names (arms missing from `metrics` are created). */
export function applyEvent(metrics: Map<string, ArmMetrics>, event: MetricEvent): void {
  const arm = (name: string) => {
    let m = metrics.get(name);
    if (!m) metrics.set(name, (m = emptyArmMetrics()));
    if (m.latency.length !== LATENCY_BUCKETS) m.latency = emptyHistogram();
    return m;
  };
  for (const run of event.runs) {
    const m = arm(run.arm);
    m.requests += 1;
    if (run.served) m.served += 1;
    if (!run.ok) {
      m.errors += 1;
      continue;
    }
    observe(m.latency, run.ms);
    m.latencySumMs += run.ms;
  }
  for (const a of event.agreement) {
    const m = arm(a.arm).agreement;
    m.compared += 1;
    m.rows += a.rows;
    m.top1Matches += a.top1Matches;
    m.cosineSum += a.cosine;
    m.maxAbsDiff = Math.max(m.maxAbsDiff, a.maxAbsDiff);
  }
}

/** Per-row feedback: how many of `labels` the arm's top-1 got right. */
export function scoreFeedback(m: ArmMetrics, top1: readonly number[], labels: readonly number[]): void {
  m.feedback.rows += labels.length;
  m.feedback.correct += labels.reduce((n, label, i) => n + (top1[i] === label ? 1 : 0), 0);
}

/** Below this many observations on either side a verdict says "insufficient_data". */
export const MIN_VERDICT_SAMPLES = 30;
/** The agreement target when no guardrail floor is configured. */
export const DEFAULT_AGREEMENT_TARGET = 0.99;

export type Verdict = "insufficient_data" | "no_significant_difference" | "better" | "worse";
export type AgreementVerdict = "insufficient_data" | "meets_target" | "below_target" | "inconclusive";

/** Two-proportion z-test at 95%; `higherIsBetter` says which direction "better" is. */
export function compareRates(x: number, n: number, cx: number, cn: number, higherIsBetter: boolean): Verdict {
  if (n < MIN_VERDICT_SAMPLES || cn < MIN_VERDICT_SAMPLES) return "insufficient_data";
  const t = twoProportionTest(x, n, cx, cn);
  if (t.p >= 0.05) return "no_significant_difference";
  return t.difference > 0 === higherIsBetter ? "better" : "worse";
}

/** The Wilson interval of top-1 agreement against the target: wholly above, wholly below, or straddling. */
export function agreementVerdict(matches: number, rows: number, target: number): AgreementVerdict {
  const ci = wilson(matches, rows);
  if (!ci || rows < MIN_VERDICT_SAMPLES) return "insufficient_data";
  if (ci[0] >= target) return "meets_target";
  if (ci[1] < target) return "below_target";
  return "inconclusive";
}

const round = (x: number, digits = 6) => Number(x.toFixed(digits));

export function latencySummary(m: ArmMetrics) {
  const ok = m.requests - m.errors;
  const q = (p: number) => {
    const v = quantile(m.latency, p);
    return v === null ? null : round(v, 4);
  };
  return { count: ok, meanMs: ok ? round(m.latencySumMs / ok, 4) : null, p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99) };
}

export const errorRate = (m: ArmMetrics) => (m.requests ? m.errors / m.requests : 0);
export const agreementRate = (m: ArmMetrics) => (m.agreement.rows ? m.agreement.top1Matches / m.agreement.rows : null);

export function summarizeArm(config: ExperimentConfig, variant: string, m: ArmMetrics, control: ArmMetrics) {
  const isControl = variant === config.control;
  const weight = config.arms.find((a) => a.variant === variant)?.weight ?? 0;
  const total = config.arms.reduce((s, a) => s + a.weight, 0);
  const a = m.agreement;
  const target = config.guardrails?.agreementFloor ?? DEFAULT_AGREEMENT_TARGET;
  const accuracy = m.feedback.rows ? m.feedback.correct / m.feedback.rows : null;
  return {
    variant,
    role: isControl ? ("control" as const) : ("candidate" as const),
    weight,
    share: total > 0 ? round(weight / total) : 0,
    requests: m.requests,
    served: m.served,
    errors: m.errors,
    errorRate: round(errorRate(m)),
    errorRateCi: wilson(m.errors, m.requests),
    latency: latencySummary(m),
    agreement: isControl
      ? null
      : {
          compared: a.compared,
          rows: a.rows,
          top1Rate: a.rows ? round(a.top1Matches / a.rows) : null,
          top1Ci: wilson(a.top1Matches, a.rows),
          meanCosine: a.compared ? round(a.cosineSum / a.compared, 9) : null,
          maxAbsDiff: a.compared ? a.maxAbsDiff : null,
        },
    accuracy: { labelled: m.feedback.rows, correct: m.feedback.correct, rate: accuracy === null ? null : round(accuracy), ci: wilson(m.feedback.correct, m.feedback.rows) },
    verdict: isControl
      ? null
      : {
          errorRate: compareRates(m.errors, m.requests, control.errors, control.requests, false),
          accuracy: compareRates(m.feedback.correct, m.feedback.rows, control.feedback.correct, control.feedback.rows, true),
          agreement: agreementVerdict(a.top1Matches, a.rows, target),
          agreementTarget: target,
        },
  };
}

export type ArmSummary = ReturnType<typeof summarizeArm>;

export function summarize(config: ExperimentConfig, metrics: ReadonlyMap<string, ArmMetrics>): ArmSummary[] {
  const get = (v: string) => metrics.get(v) ?? emptyArmMetrics();
  const control = get(config.control);
  return config.arms.map((a) => summarizeArm(config, a.variant, get(a.variant), control));
}
