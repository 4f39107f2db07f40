// /v1/models/:id/sensitivity: one layer quantized at a time, at each bit-width asked, ranked by what it costs
// (a job). The body is open to more sweep axes (a pruning sweep adds `sparsities`).
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { requireDataset } from "../catalog/datasets";
import { requireModel } from "../catalog/models";
import { submitJob } from "../jobs/jobs";
import { answerWithJob, JobSchema, WaitQuery } from "./jobs";
import { errorResponses, ModelIdParam } from "./schemas";

export const SensitivityRequestSchema = z
  .object({
    dataset: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits"),
    bits: z.array(z.number().int()).min(1).max(5).default([8]).overwrite((b) => [...new Set(b)].sort((x, y) => y - x)),
    metric: z.enum(["accuracy", "agreement", "cosine"]).optional().describe("Default: accuracy with labels, else agreement"),
    samples: z.number().int().min(1).max(100000).optional(),
  })
  .strict()
  .openapi("SensitivityRequest");

const run = createRoute({
  method: "post",
  path: "/models/{id}/sensitivity",
  summary: "Per-layer sensitivity: quantize one layer at a time and rank layers by the accuracy or agreement they cost",
  request: {
    params: ModelIdParam,
    query: WaitQuery,
    body: { content: { "application/json": { schema: SensitivityRequestSchema } }, required: true },
  },
  responses: {
    200: { description: "The report (with ?wait)", content: { "application/json": { schema: z.unknown() } } },
    202: { description: "Running as a job", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses,
  },
});

export const sensitivity = createRouter("invalid_request").openapi(run, async (c) => {
  const tenant = c.get("tenant");
  const model = await requireModel(c.env, tenant, c.req.valid("param").id);
  const body = c.req.valid("json");
  await requireDataset(c.env, tenant, body.dataset);
  const job = await submitJob(c.env, tenant, "sensitivity", { modelId: model.id, ...body });
  return answerWithJob(c, job, c.req.valid("query").wait, 200);
});
