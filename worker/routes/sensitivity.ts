// /v1/models/:id/sensitivity: one layer quantized (at each bit-width asked) or pruned (at each sparsity asked) at a
// time, all rows ranked together by what they cost (a job).
import { createRoute, z } from "@hono/zod-openapi";
import { SweepStructureSchema } from "../compress/recipe";
import { createRouter } from "../app";
import { requireDataset } from "../catalog/datasets";
import { requireModel } from "../catalog/models";
import { submitJob } from "../jobs/jobs";
import { answerWithJob, JobSchema, WaitQuery } from "./jobs";
import { errorResponses, ModelIdParam } from "./schemas";

export const SensitivityRequestSchema = z
  .object({
    dataset: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits"),
    bits: z
      .array(z.number().int())
      .min(1)
      .max(5)
      .overwrite((b) => [...new Set(b)].sort((x, y) => y - x))
      .optional()
      .describe("Bit-widths of the quantization sweep (default [8] when `sparsities` is absent too)"),
    sparsities: z
      .array(z.number().min(0).max(0.99))
      .min(1)
      .max(8)
      .overwrite((s) => [...new Set(s)].sort((x, y) => x - y))
      .optional()
      .describe("Sparsities of the pruning sweep: each weighted layer pruned alone by magnitude to each"),
    structure: SweepStructureSchema.optional().describe("Pruning structure of the sparsity sweep (default unstructured)"),
    metric: z.enum(["accuracy", "agreement", "cosine"]).optional().describe("Default: accuracy with labels, else agreement"),
    samples: z.number().int().min(1).max(100000).optional(),
  })
  .strict()
  .refine((r) => r.structure === undefined || r.sparsities !== undefined, { message: "structure applies to a sparsities sweep: give sparsities", path: ["structure"] })
  // A request with neither sweep is the original quantization-only one: bits [8].
  .overwrite((r) => (r.bits === undefined && r.sparsities === undefined ? { ...r, bits: [8] } : r))
  .openapi("SensitivityRequest");

const run = createRoute({
  method: "post",
  path: "/models/{id}/sensitivity",
  summary: "Per-layer sensitivity: quantize or prune one layer at a time and rank the rows by the accuracy or agreement they cost",
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
  const model = await requireModel(c.var.store, c.req.valid("param").id);
  const body = c.req.valid("json");
  await requireDataset(c.var.store, body.dataset);
  const job = await submitJob(c.env, tenant, "sensitivity", { modelId: model.id, ...body });
  return answerWithJob(c, job, c.req.valid("query").wait, 200);
});
