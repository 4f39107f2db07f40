// Durable jobs: submission (id = hash of tenant, kind and canonical request, so identical requests share one job),
// running under a lease (from the job's Durable Object alarm, or inline for a client that waits), and reading state.
import { canonicalJson } from "../compress/recipe";
import type { Env } from "../env";
import { DomainError, notFound } from "../domain-error";
import { sha256Hex } from "../store/body";
import { TenantStore } from "../store/tenant";
import type { Progress } from "../catalog/variants";
import { deleteModel, requireModel } from "../catalog/models";
import { requireJobRoom } from "../catalog/quotas";
import { JOB_KINDS, type JobKind } from "./kinds";
import type { Claim, JobOutcome, JobRecord, JobSpec } from "./record";

/** A runner holds a job this long without reporting progress before another may take it over. */
export const LEASE_MS = 60_000;
export const MAX_WAIT_SECONDS = 25;

export interface JobView {
  id: string;
  kind: string;
  status: JobRecord["status"];
  stage: string;
  progress: number;
  result?: unknown;
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
}

export const jobView = (j: JobRecord): JobView => ({
  id: j.id,
  kind: j.kind,
  status: j.status,
  stage: j.stage,
  progress: j.progress,
  ...(j.result !== undefined ? { result: j.result } : {}),
  ...(j.error ? { error: { code: j.error.code, message: j.error.message } } : {}),
  createdAt: j.createdAt,
  updatedAt: j.updatedAt,
});

/** The Durable Object's RPC surface with plain types (results are JSON, which the RPC types cannot express). */
interface JobStub {
  open(spec: JobSpec, rerun?: boolean): Promise<JobRecord>;
  read(): Promise<JobRecord | null>;
  cancel(error: { code: string; message: string }): Promise<JobRecord | null>;
}
export const jobStub = (env: Env, id: string) => env.JOB_STATE.get(env.JOB_STATE.idFromName(id)) as unknown as JobStub & JobLease;

/** What a runner needs of the job's object: the object itself (its alarm) or its stub (an inline run). */
export interface JobLease {
  claim(leaseMs: number): Promise<Claim>;
  /** False when the job is no longer running (cancelled): the runner stops. */
  report(stage: string, progress: number, leaseMs: number): Promise<boolean>;
  finish(outcome: JobOutcome): Promise<JobRecord | null>;
}

export async function jobId(tenant: string, kind: JobKind, request: unknown): Promise<string> {
  return (await sha256Hex(new TextEncoder().encode(`${tenant}\n${kind}\n${canonicalJson(request)}`))).slice(0, 24);
}

/**
 * Opens (or joins) the job; a new one, or one retried after a failure, is queued with its runner's alarm armed. The
 * job is noted against its model first, so that deleting the model finds it and cancels it.
 */
export async function submitJob<R extends { modelId: string }>(env: Env, tenant: string, kind: JobKind, request: R, rerun = false): Promise<JobRecord> {
  const id = await jobId(tenant, kind, request);
  const store = new TenantStore(env, tenant);
  await requireJobRoom(store, id);
  await store.noteModelJob(request.modelId, id);
  const job = await jobStub(env, id).open({ id, tenant, kind, request }, rerun);
  // Joined a job that had ended (its result stands): nothing is left to cancel or to count.
  if (job.status === "succeeded" || job.status === "failed") await store.forgetModelJob(request.modelId, id);
  return job;
}

/**
 * Deletes a model and cancels the jobs working on it: cancelled first, so that a queued one never starts and a
 * running one stops at its next progress report; one that gets past that finds the model gone before it writes a
 * record (catalog/variants.ts). A cancelled job fails with not_found naming the model.
 */
export async function deleteModelAndJobs(env: Env, store: TenantStore, modelId: string): Promise<void> {
  await requireModel(store, modelId);
  const error = { code: "not_found", message: `model '${modelId}' was deleted; the job was cancelled` };
  await Promise.all((await store.listModelJobs(modelId)).map((id) => jobStub(env, id).cancel(error)));
  await deleteModel(store, modelId);
  await store.forgetModelJobs(modelId);
}

/** A runner's progress report that found its job cancelled. */
class JobCancelled extends DomainError {
  constructor() {
    super("not_found", "the job was cancelled");
  }
}

export async function readJob(env: Env, tenant: string, id: string): Promise<JobRecord> {
  const job = await jobStub(env, id).read();
  if (!job || job.tenant !== tenant) throw notFound("job", id);
  return job;
}

/**
 * Runs the job if this caller can take its lease. Returns "busy" when another runner holds it, "done" otherwise.
 * Domain errors fail the job with their code; anything else fails it as internal (a retry re-runs it idempotently).
 */
export async function runJob(env: Env, id: string, s: JobLease = jobStub(env, id), leaseMs = LEASE_MS): Promise<"done" | "busy"> {
  const claim = await s.claim(leaseMs);
  if (!claim.granted) {
    if (claim.job && (claim.job.status === "running" || claim.job.status === "queued")) return "busy";
    if (claim.job) await forgetJob(env, claim.job);
    return "done";
  }
  const job = claim.job;
  // The job's tenant, bound once for the run as a request binds its own.
  const store = new TenantStore(env, job.tenant);
  try {
    const result = await (JOB_KINDS[job.kind as JobKind] as (s: TenantStore, r: unknown, p: Progress) => Promise<unknown>)(store, job.request, async (stage, progress) => {
      if (!(await s.report(stage, progress, leaseMs))) throw new JobCancelled();
    });
    await s.finish({ result });
  } catch (err) {
    const error =
      err instanceof DomainError
        ? { code: err.code, message: err.message }
        : { code: "internal", message: (err as Error)?.message ?? String(err), status: 500 };
    if (!(err instanceof DomainError)) console.error("job failed", id, err);
    await s.finish({ error });
  }
  await forgetJob(env, job);
  return "done";
}

/** An ended job leaves its model's job list (and the tenant's count of running jobs). */
async function forgetJob(env: Env, job: JobRecord): Promise<void> {
  const modelId = (job.request as { modelId?: string }).modelId;
  if (modelId) await new TenantStore(env, job.tenant).forgetModelJob(modelId, job.id);
}

/** Runs inline when the lease is free, else polls until the job ends or `seconds` pass. */
export async function waitForJob(env: Env, tenant: string, id: string, seconds: number): Promise<JobRecord> {
  const deadline = Date.now() + Math.min(seconds, MAX_WAIT_SECONDS) * 1000;
  await runJob(env, id);
  for (;;) {
    const job = await readJob(env, tenant, id);
    if (job.status === "succeeded" || job.status === "failed" || Date.now() >= deadline) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}
