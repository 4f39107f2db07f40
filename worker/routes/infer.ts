// /v1/models/:id/infer: run the original or a variant (?variant= or ?bits=) on JSON tensors.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { requireModel } from "../catalog/models";
import { runInference } from "../traffic/infer";
import { serverTimingHeader } from "../serve/server-timing";
import { modelEntryKey, remembered } from "../serve/serving-cache";
import { encodeTensors } from "../../formats/json-numbers.js";
import { errorResponses, JsonTensorSchema, ModelIdParam, OutputTensorSchema } from "./schemas";

export const InferRequestSchema = z
  .object({ inputs: z.record(z.string(), JsonTensorSchema) })
  .strict()
  .openapi("InferRequest");

export const InferResponseSchema = z
  .object({
    outputs: z.record(z.string(), OutputTensorSchema),
    model: z.string(),
    variant: z.string().nullable(),
    bits: z.number(),
    engine: z.string(),
    timeMs: z.number(),
  })
  .openapi("InferResponse");

/** How the answer was served: the session cached or loaded for this request (with the load's duration), and the run. */
export const ServerTimingHeaderSchema = z.string().openapi({
  description: "cache;desc=\"hit\"|\"miss\", load;dur=<ms> (only when the session was loaded for this request), run;dur=<ms>",
  example: 'cache;desc="miss", load;dur=41.2, run;dur=3.1',
});

const infer = createRoute({
  method: "post",
  path: "/models/{id}/infer",
  summary: "Run inference on the original (bits=32) or a variant",
  request: {
    params: ModelIdParam,
    query: z.object({
      variant: z.string().regex(/^[0-9a-f]{24}$/, "variant ids are 24 hex digits").optional(),
      bits: z.enum(["32", "16", "8", "4", "2", "1"]).optional(),
    }),
    body: { content: { "application/json": { schema: InferRequestSchema } }, required: true },
  },
  responses: {
    200: {
      description: "Outputs",
      headers: z.object({ "Server-Timing": ServerTimingHeaderSchema }),
      content: { "application/json": { schema: InferResponseSchema } },
    },
    ...errorResponses,
  },
});

export const inference = createRouter("invalid_input").openapi(infer, async (c) => {
  const tenant = c.get("tenant");
  const id = c.req.valid("param").id;
  const model = await remembered(modelEntryKey(tenant, id), () => requireModel(c.var.store, id));
  const { variant, bits } = c.req.valid("query");
  const { answer, timing } = await runInference(c.var.store, model, { variant, bits: bits ? Number(bits) : undefined }, c.req.valid("json").inputs);
  c.header("Server-Timing", serverTimingHeader(timing));
  return c.json({ ...answer, outputs: encodeTensors(answer.outputs) }, 200);
});
