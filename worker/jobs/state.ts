// One Durable Object per job: its status, stage, progress, result or error, strongly consistent; the lease that lets
// exactly one runner (the object's own alarm, or a waiting request) work on it at a time; and the alarm that runs it.
//
// Why the object runs its job itself: jobs used to run inside the queue consumer's invocation, and the local queue
// under `wrangler dev` (Miniflare) hands its consumer one batch at a time and sends nothing more until that invocation
// returns. A long job therefore held every job queued after it in `queued` for as long as it ran (minutes), and a
// message retried while a lease was held was dropped after max_retries, leaving a job no runner would ever take.
// An alarm is stored with the job (armed in the same write that queues it, moved to the lease's end while a runner
// holds it), so a queued job always has a runner coming, independently of every other job, and a runner that dies
// is replaced when its lease ends.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { runJob, LEASE_MS } from "./jobs";
import type { Claim, JobOutcome, JobRecord, JobSpec } from "./record";

export type { Claim, JobOutcome, JobRecord, JobSpec, JobStatus } from "./record";

/** Runs that may die (lease ended without a finish) before the job fails instead of starting again. */
export const MAX_ATTEMPTS = 5;

const KEY = "job";
const ended = (job: JobRecord) => job.status === "succeeded" || job.status === "failed";

export class JobState extends DurableObject<Env> {
  private async load(): Promise<JobRecord | undefined> {
    return this.ctx.storage.get<JobRecord>(KEY);
  }

  private async save(job: JobRecord): Promise<JobRecord> {
    await this.ctx.storage.put(KEY, job);
    return job;
  }

  /**
   * Creates the job, or returns the existing one. A failed job (or a succeeded one whose output is gone, when
   * `rerun` says so) goes back to queued. A queued job's alarm is armed in the same write, so it will run.
   */
  async open(spec: JobSpec, rerun = false): Promise<JobRecord> {
    const now = new Date().toISOString();
    const existing = await this.load();
    if (existing && existing.status !== "failed" && !(rerun && existing.status === "succeeded")) return existing;
    const job: JobRecord = {
      ...spec,
      status: "queued",
      stage: "queued",
      progress: 0,
      attempts: 0,
      leaseUntil: 0,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.ctx.storage.setAlarm(Date.now());
    return this.save(job);
  }

  /** The job; one that has not ended and has no runner coming (an alarm lost, or a job from before alarms) gets one. */
  async read(): Promise<JobRecord | null> {
    const job = await this.load();
    if (job && !ended(job) && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Math.max(Date.now(), job.leaseUntil));
    }
    return job ?? null;
  }

  /**
   * Takes the job for `leaseMs` if it is queued, or running under an expired lease (its runner died); the alarm
   * moves to the lease's end, so that the job is taken over if this runner dies too. A job whose runs died
   * MAX_ATTEMPTS times fails rather than starting again.
   */
  async claim(leaseMs: number): Promise<Claim> {
    const job = await this.load();
    const now = Date.now();
    if (!job || ended(job)) return { granted: false, job: job ?? null };
    if (job.status === "running" && job.leaseUntil > now) {
      await this.ctx.storage.setAlarm(job.leaseUntil);
      return { granted: false, job };
    }
    if (job.attempts >= MAX_ATTEMPTS) {
      const message = `the job's runner stopped ${job.attempts} times without finishing (last at stage '${job.stage}')`;
      return { granted: false, job: (await this.finish({ error: { code: "internal", message, status: 500 } }))! };
    }
    job.status = "running";
    job.stage = "starting";
    job.attempts += 1;
    job.leaseUntil = now + leaseMs;
    job.updatedAt = new Date().toISOString();
    await this.ctx.storage.setAlarm(job.leaseUntil);
    return { granted: true, job: await this.save(job) };
  }

  /**
   * Progress from the runner also renews its lease (and moves the takeover alarm with it). False when the job is no
   * longer running (cancelled, or ended by another runner): the runner stops there.
   */
  async report(stage: string, progress: number, leaseMs: number): Promise<boolean> {
    const job = await this.load();
    if (!job || job.status !== "running") return false;
    job.stage = stage;
    job.progress = Math.max(0, Math.min(1, progress));
    job.leaseUntil = Date.now() + leaseMs;
    job.updatedAt = new Date().toISOString();
    await this.ctx.storage.setAlarm(job.leaseUntil);
    await this.save(job);
    return true;
  }

  /**
   * Ends a job that has not ended as failed with `error` (its model was deleted), and disarms its runner: a queued job
   * never starts, and a running one stops at its next report, its finish ignored.
   */
  async cancel(error: { code: string; message: string }): Promise<JobRecord | null> {
    const job = await this.load();
    if (!job || ended(job)) return job ?? null;
    return this.finish({ error });
  }

  /** The first outcome wins: a runner finishing a job already ended (cancelled, or taken over and done) changes nothing. */
  async finish(outcome: JobOutcome): Promise<JobRecord | null> {
    const job = await this.load();
    if (!job || ended(job)) return job ?? null;
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
    await this.ctx.storage.deleteAlarm();
    return this.save(job);
  }

  /** The job's runner: runs it when its lease is free (a claim refused re-arms the alarm for the lease's end). */
  override async alarm(): Promise<void> {
    const job = await this.load();
    if (!job || ended(job)) return;
    await runJob(this.env, job.id, this, LEASE_MS);
  }
}
