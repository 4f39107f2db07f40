// The experiment's Durable Object: the config (source of truth, strongly consistent) and the per-arm metrics,
// in its SQLite storage. Every method runs synchronous SQL with no await in between, so a method is atomic
// with respect to every other call: concurrent metric batches add up exactly.
import { DurableObject } from "cloudflare:workers";
import { DomainError, type DomainCode } from "../domain-error";
import type { Env } from "../env";
import {
  newExperiment,
  patchExperiment,
  promoteExperiment,
  rollbackExperiment,
  type ExperimentConfig,
  type ExperimentPatch,
  type ExperimentSpec,
} from "../experiments/config";
import { checkGuardrails } from "../experiments/guardrails";
import { applyEvent, scoreFeedback, type ArmMetrics, type MetricEvent } from "../experiments/arm-metrics";

/** How many served requests keep their top-1 for feedback (oldest dropped first). */
export const SERVED_KEPT = 10_000;

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: { code: DomainCode; message: string } };

export interface ExperimentView {
  config: ExperimentConfig;
  metrics: Record<string, ArmMetrics>;
}

export interface FeedbackResult {
  requestId: string;
  arm: string;
  scored: { arm: string; rows: number; correct: number }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS arm_metrics (arm TEXT PRIMARY KEY, metrics TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS served (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL UNIQUE,
  arm TEXT NOT NULL,
  top1 TEXT NOT NULL,
  labelled INTEGER NOT NULL DEFAULT 0
);`;

/** Runs a transition, turning the DomainError it throws into a value (class identity does not survive RPC). */
function outcome<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof DomainError) return { ok: false, error: { code: err.code, message: err.message } };
    throw err;
  }
}

export class ExperimentObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private config: ExperimentConfig | null;
  private readonly metrics = new Map<string, ArmMetrics>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'config'").toArray()[0];
    this.config = row ? (JSON.parse(row.value) as ExperimentConfig) : null;
    for (const r of this.sql.exec<{ arm: string; metrics: string }>("SELECT arm, metrics FROM arm_metrics")) {
      this.metrics.set(r.arm, JSON.parse(r.metrics) as ArmMetrics);
    }
  }

  /** Versions keep increasing across delete and re-create, so no isolate mistakes a new config for its cached one. */
  private nextVersion(): number {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'version'").toArray()[0];
    const version = (row ? Number(row.value) : 0) + 1;
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)", String(version));
    return version;
  }

  private save(config: ExperimentConfig): ExperimentConfig {
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", JSON.stringify(config));
    this.config = config;
    return config;
  }

  private require(): ExperimentConfig {
    if (!this.config) throw new DomainError("not_found", "experiment not found");
    return this.config;
  }

  create(spec: ExperimentSpec, variantIds: string[]): Outcome<ExperimentConfig> {
    return outcome(() => {
      if (this.config) throw new DomainError("conflict", `experiment '${spec.name}' already exists`);
      const config = newExperiment(spec, new Set(variantIds), this.nextVersion(), new Date().toISOString());
      this.sql.exec("DELETE FROM arm_metrics");
      this.sql.exec("DELETE FROM served");
      this.metrics.clear();
      return this.save(config);
    });
  }

  getConfig(): ExperimentConfig | null {
    return this.config;
  }

  view(): ExperimentView | null {
    if (!this.config) return null;
    return { config: this.config, metrics: Object.fromEntries(this.metrics) };
  }

  patch(patch: ExperimentPatch): Outcome<ExperimentConfig> {
    return outcome(() => this.save(patchExperiment(this.require(), patch, this.nextVersion(), new Date().toISOString())));
  }

  promote(variant: string | undefined): Outcome<ExperimentConfig> {
    return outcome(() => this.save(promoteExperiment(this.require(), variant, this.nextVersion(), new Date().toISOString())));
  }

  rollback(reason: string | undefined): Outcome<ExperimentConfig> {
    return outcome(() => {
      const config = this.require();
      const rollback = { automatic: false, reason: reason ?? "rolled back by request" };
      return this.save(rollbackExperiment(config, rollback, this.nextVersion(), new Date().toISOString()));
    });
  }

  destroy(): boolean {
    if (!this.config) return false;
    this.sql.exec("DELETE FROM meta WHERE key = 'config'");
    this.sql.exec("DELETE FROM arm_metrics");
    this.sql.exec("DELETE FROM served");
    this.metrics.clear();
    this.config = null;
    return true;
  }

  /**
   * Adds a batch of events from one isolate, keeps each served request's top-1 for feedback, then checks the
   * guardrails. Returns the config version so the isolate can drop a stale cached config (0: no experiment).
   */
  record(events: MetricEvent[]): { version: number } {
    const config = this.config;
    if (!config) return { version: 0 };
    const known = new Set(config.arms.map((a) => a.variant));
    const touched = new Set<string>();
    for (const event of events) {
      const runs = event.runs.filter((r) => known.has(r.arm));
      const agreement = event.agreement.filter((a) => known.has(a.arm));
      applyEvent(this.metrics, { ...event, runs, agreement });
      for (const r of runs) touched.add(r.arm);
      for (const a of agreement) touched.add(a.arm);
      const served = runs.find((r) => r.served);
      if (served) {
        const top1 = Object.fromEntries(runs.filter((r) => r.top1).map((r) => [r.arm, r.top1]));
        this.sql.exec(
          "INSERT OR IGNORE INTO served (request_id, arm, top1) VALUES (?, ?, ?)",
          event.requestId,
          served.arm,
          JSON.stringify(top1),
        );
      }
    }
    this.sql.exec("DELETE FROM served WHERE seq <= (SELECT MAX(seq) FROM served) - ?", SERVED_KEPT);
    for (const arm of touched) {
      this.sql.exec("INSERT OR REPLACE INTO arm_metrics (arm, metrics) VALUES (?, ?)", arm, JSON.stringify(this.metrics.get(arm)));
    }
    const fired = checkGuardrails(config, this.metrics);
    if (fired) this.save(rollbackExperiment(config, fired, this.nextVersion(), new Date().toISOString()));
    return { version: this.config!.version };
  }

  /** Ground truth for a served request: scores every arm that ran on it (the answering arm and any shadows). */
  feedback(requestId: string, label: number | number[]): Outcome<FeedbackResult> {
    return outcome(() => {
      this.require();
      const row = this.sql
        .exec<{ arm: string; top1: string; labelled: number }>("SELECT arm, top1, labelled FROM served WHERE request_id = ?", requestId)
        .toArray()[0];
      if (!row) throw new DomainError("not_found", `request '${requestId}' is unknown to this experiment (or older than the last ${SERVED_KEPT})`);
      if (row.labelled) throw new DomainError("conflict", `request '${requestId}' already has feedback`);
      const top1 = JSON.parse(row.top1) as Record<string, number[]>;
      const rows = top1[row.arm]?.length ?? 0;
      const labels = Array.isArray(label) ? label : [label];
      if (labels.length !== rows) {
        throw new DomainError("invalid_request", `label: request '${requestId}' had ${rows} output row(s); send ${rows === 1 ? "one label" : `an array of ${rows} labels`}`);
      }
      const scored = [];
      for (const [arm, predicted] of Object.entries(top1)) {
        const m = this.metrics.get(arm);
        if (!m) continue;
        const before = m.feedback.correct;
        scoreFeedback(m, predicted, labels);
        scored.push({ arm, rows: labels.length, correct: m.feedback.correct - before });
        this.sql.exec("INSERT OR REPLACE INTO arm_metrics (arm, metrics) VALUES (?, ?)", arm, JSON.stringify(m));
      }
      this.sql.exec("UPDATE served SET labelled = 1 WHERE request_id = ?", requestId);
      return { requestId, arm: row.arm, scored };
    });
  }
}
