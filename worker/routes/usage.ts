// /v1/usage: what the tenant holds against each quota, and its rate limit (the bounds: worker/limits.ts).
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { usageReport } from "../catalog/quotas";
import { errorResponses } from "./schemas";

const Counted = z.object({ used: z.number(), max: z.number() });

export const UsageSchema = z
  .object({
    models: Counted,
    variantsPerModel: Counted.describe("`used`: the variants of the model that has the most"),
    datasets: Counted,
    experiments: Counted,
    storedBytes: Counted.describe("Bytes of models, variants and datasets together, and the planned bytes of uploads in progress"),
    runningJobs: Counted.describe("Jobs queued or running"),
    rateLimit: z.object({ requests: z.number(), periodSeconds: z.number() }).describe("Requests per token in each period"),
  })
  .openapi("Usage");

export type Usage = z.infer<typeof UsageSchema>;

const get = createRoute({
  method: "get",
  path: "/usage",
  summary: "The tenant's usage against each quota, and its rate limit",
  responses: { 200: { description: "Usage", content: { "application/json": { schema: UsageSchema } } }, ...errorResponses },
});

export const usage = createRouter("invalid_request").openapi(get, async (c) => c.json(await usageReport(c.var.store), 200));
