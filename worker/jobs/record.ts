// A job as its Durable Object stores it (worker/jobs/state.ts), and what a runner claims and reports back: the
// shapes both the object and the runners (worker/jobs/jobs.ts) read, in a module that imports neither.
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
  /** Runs started since the job was (re)queued: each one that dies without finishing leaves one more. */
  attempts: number;
  leaseUntil: number;
  createdAt: string;
  updatedAt: string;
}

export type JobOutcome = { result: unknown } | { error: { code: string; message: string; status?: number } };
export type Claim = { granted: true; job: JobRecord } | { granted: false; job: JobRecord | null };
