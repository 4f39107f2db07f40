// An experiment's configuration and its transitions (create, patch weights or ramp, promote, rollback),
// as pure functions over plain data. The Durable Object stores the result; routes only validate shapes.
import { DomainError } from "../domain-error";
import type { WeightedArm } from "./assignment";

/** The FP32 model itself as an arm. */
export const ORIGINAL = "original";
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const DEFAULT_AGREEMENT_SAMPLE = 0.1;
export const MAX_HISTORY = 50;

export interface Guardrails {
  /** Both the arm and the control need this many observations before a rule may fire. */
  minSamples: number;
  /** Roll back when arm error rate - control error rate exceeds this (absolute, 0..1). */
  errorRateMargin?: number;
  /** Roll back when arm p99 - control p99 exceeds this many milliseconds. */
  p99MarginMs?: number;
  /** Roll back when the arm's top-1 agreement with control falls below this (0..1). */
  agreementFloor?: number;
}

export type ExperimentStatus = "running" | "promoted" | "rolled_back";

export interface Rollback {
  at: string;
  automatic: boolean;
  reason: string;
  arm?: string;
  rule?: "error_rate" | "p99_latency" | "agreement";
}

export interface HistoryEntry {
  at: string;
  action: "created" | "patched" | "promoted" | "rolled_back";
  detail: string;
}

export interface ExperimentSpec {
  name: string;
  model: string;
  mode: "split" | "shadow";
  arms: WeightedArm[];
  control: string;
  sticky?: { header: string };
  agreementSample?: number;
  guardrails?: Guardrails;
}

/** A stored experiment: its spec with the defaults filled in, plus its state. */
export interface ExperimentConfig extends Omit<ExperimentSpec, "agreementSample"> {
  agreementSample: number;
  status: ExperimentStatus;
  /** The arm answering every request once promoted (or the control once rolled back). */
  winner?: string;
  rollback?: Rollback;
  history: HistoryEntry[];
  /** Bumped on every change; isolates compare it to drop a stale cached copy. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface ExperimentPatch {
  weights?: Record<string, number>;
  ramp?: { variant: string; percent: number };
  agreementSample?: number;
  guardrails?: Guardrails | null;
}

const invalid = (message: string) => new DomainError("invalid_request", message);

/** Weights are relative; the bound keeps their sum (and the split arithmetic) finite and exact enough. */
export const MAX_ARM_WEIGHT = 1_000_000;

function checkWeights(arms: readonly WeightedArm[]): void {
  for (const a of arms) {
    if (!Number.isFinite(a.weight) || a.weight < 0 || a.weight > MAX_ARM_WEIGHT) {
      throw invalid(`arm '${a.variant}': weight must be a finite number from 0 to ${MAX_ARM_WEIGHT}`);
    }
  }
  if (!arms.some((a) => a.weight > 0)) throw invalid("arms: weights must not all be zero");
}

/** Checks a new experiment against the model's variant ids and returns its first configuration. */
export function newExperiment(spec: ExperimentSpec, variantIds: ReadonlySet<string>, version: number, now: string): ExperimentConfig {
  if (!NAME_PATTERN.test(spec.name)) throw invalid(`name '${spec.name}' must match ${NAME_PATTERN.source}`);
  if (spec.arms.length < 2) throw invalid("arms: an experiment needs at least two arms");
  const seen = new Set<string>();
  for (const a of spec.arms) {
    if (seen.has(a.variant)) throw invalid(`arms: variant '${a.variant}' appears twice`);
    seen.add(a.variant);
    if (a.variant !== ORIGINAL && !variantIds.has(a.variant)) {
      throw invalid(`arms: '${a.variant}' is not a variant of model '${spec.model}' (use a variant id or "${ORIGINAL}")`);
    }
  }
  checkWeights(spec.arms);
  if (!seen.has(spec.control)) throw invalid(`control: '${spec.control}' is not one of the arms`);
  if (spec.mode === "shadow" && !spec.arms.some((a) => a.variant === spec.control && a.weight > 0)) {
    throw invalid("control: in shadow mode the control answers every request, so its weight must be > 0");
  }
  return {
    name: spec.name,
    model: spec.model,
    mode: spec.mode,
    arms: spec.arms.map((a) => ({ variant: a.variant, weight: a.weight })),
    control: spec.control,
    ...(spec.sticky ? { sticky: { header: spec.sticky.header.toLowerCase() } } : {}),
    agreementSample: spec.agreementSample ?? DEFAULT_AGREEMENT_SAMPLE,
    ...(spec.guardrails ? { guardrails: spec.guardrails } : {}),
    status: "running",
    history: [{ at: now, action: "created", detail: describeWeights(spec.arms) }],
    version,
    createdAt: now,
    updatedAt: now,
  };
}

const describeWeights = (arms: readonly WeightedArm[]) => arms.map((a) => `${a.variant}=${a.weight}`).join(", ");

function withHistory(config: ExperimentConfig, entry: HistoryEntry, version: number): ExperimentConfig {
  return { ...config, history: [...config.history, entry].slice(-MAX_HISTORY), version, updatedAt: entry.at };
}

/**
 * `ramp` gives one arm exactly `percent`% and scales the others to fill the rest in proportion to their
 * current weights (all to the control when the others are all zero). Changing weights resumes a concluded
 * experiment.
 */
export function patchExperiment(config: ExperimentConfig, patch: ExperimentPatch, version: number, now: string): ExperimentConfig {
  const known = new Set(config.arms.map((a) => a.variant));
  let arms = config.arms;
  if (patch.weights) {
    for (const v of Object.keys(patch.weights)) if (!known.has(v)) throw invalid(`weights: '${v}' is not an arm of '${config.name}'`);
    arms = arms.map((a) => ({ variant: a.variant, weight: patch.weights![a.variant] ?? a.weight }));
  }
  if (patch.ramp) {
    const { variant, percent } = patch.ramp;
    if (!known.has(variant)) throw invalid(`ramp.variant: '${variant}' is not an arm of '${config.name}'`);
    if (!(percent >= 0 && percent <= 100)) throw invalid("ramp.percent must be between 0 and 100");
    const others = arms.filter((a) => a.variant !== variant);
    const rest = others.reduce((s, a) => s + a.weight, 0);
    if (rest === 0 && percent < 100 && variant === config.control) {
      throw invalid("ramp: the other arms all have weight 0; set their weights first");
    }
    arms = arms.map((a) => {
      if (a.variant === variant) return { variant: a.variant, weight: percent };
      const share = rest > 0 ? a.weight / rest : a.variant === config.control ? 1 : 0;
      return { variant: a.variant, weight: (100 - percent) * share };
    });
  }
  checkWeights(arms);
  if (config.mode === "shadow" && !arms.some((a) => a.variant === config.control && a.weight > 0)) {
    throw invalid("weights: in shadow mode the control's weight must stay > 0");
  }
  const routing = patch.weights !== undefined || patch.ramp !== undefined;
  let next: ExperimentConfig = { ...config, arms };
  if (patch.agreementSample !== undefined) next.agreementSample = patch.agreementSample;
  if (patch.guardrails === null) delete next.guardrails;
  else if (patch.guardrails) next.guardrails = patch.guardrails;
  if (routing && config.status !== "running") {
    next = { ...next, status: "running" };
    delete next.winner;
  }
  return withHistory(next, { at: now, action: "patched", detail: describeWeights(arms) }, version);
}

/** One arm takes 100% of the traffic; with no arm named, the only candidate (non-control) arm. */
export function promoteExperiment(config: ExperimentConfig, variant: string | undefined, version: number, now: string): ExperimentConfig {
  const candidates = config.arms.filter((a) => a.variant !== config.control);
  const arm = variant ?? (candidates.length === 1 ? candidates[0]!.variant : undefined);
  if (arm === undefined) throw invalid(`promote: name the arm to promote (one of ${candidates.map((a) => a.variant).join(", ")})`);
  if (!config.arms.some((a) => a.variant === arm)) throw invalid(`promote: '${arm}' is not an arm of '${config.name}'`);
  const next: ExperimentConfig = {
    ...config,
    arms: config.arms.map((a) => ({ variant: a.variant, weight: a.variant === arm ? 100 : 0 })),
    status: "promoted",
    winner: arm,
  };
  return withHistory(next, { at: now, action: "promoted", detail: `${arm} takes 100%` }, version);
}

/** Back to the control at 100%, recording why (a person's reason or the guardrail that fired). */
export function rollbackExperiment(config: ExperimentConfig, rollback: Omit<Rollback, "at">, version: number, now: string): ExperimentConfig {
  const next: ExperimentConfig = {
    ...config,
    arms: config.arms.map((a) => ({ variant: a.variant, weight: a.variant === config.control ? 100 : 0 })),
    status: "rolled_back",
    winner: config.control,
    rollback: { at: now, ...rollback },
  };
  return withHistory(next, { at: now, action: "rolled_back", detail: rollback.reason }, version);
}
