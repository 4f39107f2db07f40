// /v1/jobs/:id: a durable job's status, stage, progress (0..1), and its result or error; and the shared way
// routes answer with a job (202 + Location, or the result when `?wait=` saw it finish).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createRouter } from "../app";
import type { AppEnv } from "../env";
import { ApiError, statusOfCode } from "../errors";
import { jobView, readJob, waitForJob } from "../jobs/jobs";
import type { JobRecord } from "../jobs/state";
import { errorResponses } from "./schemas";

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.enum(["queued", "running", "succeeded", "failed"]),
    stage: z.string(),
    progress: z.number(),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    url: z.string().optional(),
  })
  .openapi("Job");

export const WaitQuery = z.object({
  wait: z.coerce
    .number()
    .min(0)
    .max(600)
    .optional()
    .openapi({ description: "Seconds (at most 25 are used) to wait for the job; runs it inline when no worker holds it" }),
});

/** 202 with the job, or — when `wait` saw it finish — the result (`doneStatus`) or the job's error. */
export async function answerWithJob<S extends 200 | 201>(c: Context<AppEnv>, job: JobRecord, wait: number | undefined, doneStatus: S) {
  let current = job;
  if (wait !== undefined && wait > 0 && current.status !== "succeeded") current = await waitForJob(c.env, c.get("tenant"), job.id, wait);
  if (current.status === "succeeded" && wait !== undefined) return c.json(current.result as object, doneStatus);
  if (current.status === "failed" && wait !== undefined) {
    const e = current.error!;
    throw new ApiError(e.status ? (e.status as 400) : statusOfCode(e.code), e.code as "internal", e.message);
  }
  const url = `/v1/jobs/${current.id}`;
  c.header("Location", url);
  return c.json({ ...jobView(current), url }, 202);
}

const get = createRoute({
  method: "get",
  path: "/jobs/{id}",
  summary: "A job's status, stage, progress, and result or error",
  request: { params: z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, "job ids are 24 hex digits").openapi({ param: { name: "id", in: "path" } }) }) },
  responses: { 200: { description: "Job", content: { "application/json": { schema: JobSchema } } }, ...errorResponses },
});

export const jobs = createRouter("invalid_request").openapi(get, async (c) => {
  const job = await readJob(c.env, c.get("tenant"), c.req.valid("param").id);
  return c.json(jobView(job), 200);
});
