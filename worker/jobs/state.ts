// One Durable Object per job: its status, stage, progress, result or error, strongly consistent, and the lease
// that lets exactly one runner (queue consumer or a waiting request) work on it at a time.
import { DurableObject } from "cloudflare:workers";

export type JobStatus = "queued" | "running" | "succeeded" | "failed";

export interface JobSpec {
  id: string;
  tenant: string;
  kind: string;
  request: unknown;
}

export interface JobRecord extends JobSpec {
  status: JobStatus;
  stage: string;
  progress: number;
  result?: unknown;
  error?: { code: string; message: string; status?: number };
  attempts: number;
  leaseUntil: number;
  createdAt: string;
  updatedAt: string;
}

const KEY = "job";

export class JobState extends DurableObject {
  private async load(): Promise<JobRecord | undefined> {
    return this.ctx.storage.get<JobRecord>(KEY);
  }

  private async save(job: JobRecord): Promise<JobRecord> {
    await this.ctx.storage.put(KEY, job);
    return job;
  }

  /**
   * Creates the job, or returns the existing one. A failed job (or a succeeded one whose output is gone, when
   * `rerun` says so) goes back to queued: `enqueue` tells the caller to send a message for it.
   */
  async open(spec: JobSpec, rerun = false): Promise<{ job: JobRecord; enqueue: boolean }> {
    const now = new Date().toISOString();
    const existing = await this.load();
    if (existing && existing.status !== "failed" && !(rerun && existing.status === "succeeded")) {
      return { job: existing, enqueue: false };
    }
    const job: JobRecord = {
      ...spec,
      status: "queued",
      stage: "queued",
      progress: 0,
      attempts: existing?.attempts ?? 0,
      leaseUntil: 0,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    return { job: await this.save(job), enqueue: true };
  }

  async read(): Promise<JobRecord | null> {
    return (await this.load()) ?? null;
  }

  /** Takes the job for `leaseMs` if it is queued, or running under an expired lease (its runner died). */
  async claim(leaseMs: number): Promise<{ granted: true; job: JobRecord } | { granted: false; job: JobRecord | null }> {
    const job = await this.load();
    const now = Date.now();
    if (!job || job.status === "succeeded" || job.status === "failed") return { granted: false, job: job ?? null };
    if (job.status === "running" && job.leaseUntil > now) return { granted: false, job };
    job.status = "running";
    job.stage = "starting";
    job.attempts += 1;
    job.leaseUntil = now + leaseMs;
    job.updatedAt = new Date().toISOString();
    return { granted: true, job: await this.save(job) };
  }

  /** Progress from the runner also renews its lease. */
  async report(stage: string, progress: number, leaseMs: number): Promise<void> {
    const job = await this.load();
    if (!job || job.status !== "running") return;
    job.stage = stage;
    job.progress = Math.max(0, Math.min(1, progress));
    job.leaseUntil = Date.now() + leaseMs;
    job.updatedAt = new Date().toISOString();
    await this.save(job);
  }

  async finish(outcome: { result: unknown } | { error: { code: string; message: string; status?: number } }): Promise<JobRecord | null> {
    const job = await this.load();
    if (!job) return null;
    if ("result" in outcome) {
      job.status = "succeeded";
      job.stage = "done";
      job.progress = 1;
      job.result = outcome.result;
      delete job.error;
    } else {
      job.status = "failed";
      job.stage = "failed";
      job.error = outcome.error;
      delete job.result;
    }
    job.leaseUntil = 0;
    job.updatedAt = new Date().toISOString();
    return this.save(job);
  }
}
