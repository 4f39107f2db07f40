// /v1/models/:id/infer: run the original or a variant (?variant= or ?bits=) on JSON tensors.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { requireModel } from "../catalog/models";
import { runInference } from "../traffic/infer";
import { timedJsonAnswer } from "../serve/server-timing";
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
    profile: z
      .array(z.object({ node: z.string(), op: z.string(), ms: z.number() }))
      .nullable()
      .optional()
      .openapi({ description: "With ?profile=1: milliseconds per node in execution order (kernel engine); null on onnxruntime-web" }),
  })
  .openapi("InferResponse");

/** How the answer was served: the session cached or loaded for this request, and where the time went. */
export const ServerTimingHeaderSchema = z.string().openapi({
  description:
    "cache;desc=\"hit\"|\"miss\", parse;dur=<ms> (body read and checked by the schema), validate;dur=<ms> (inputs against the model's " +
    "signature), resolve;dur=<ms> (the variant that serves), load;dur=<ms> (only when the session was loaded for this request), " +
    "run;dur=<ms>, serialize;dur=<ms>, compress;dur=<ms> (only when a JSON answer was gzipped for a client that accepts it), " +
    "total;dur=<ms> (since the request arrived)",
  example: 'cache;desc="hit", parse;dur=0.4, validate;dur=0.1, resolve;dur=0, run;dur=3.1, serialize;dur=0.2, total;dur=3.9',
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
      profile: z.enum(["0", "1"]).optional().openapi({ description: "1: add the engine's per-node timings to the answer" }),
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
  const handlerStarted = performance.now();
  const tenant = c.get("tenant");
  const id = c.req.valid("param").id;
  const model = await remembered(modelEntryKey(tenant, id), () => requireModel(c.var.store, id));
  const { variant, bits, profile } = c.req.valid("query");
  const pick = { variant, bits: bits ? Number(bits) : undefined, profile: profile === "1" };
  const { answer, timing } = await runInference(c.var.store, model, pick, c.req.valid("json").inputs);
  const out = { ...answer, outputs: encodeTensors(answer.outputs) };
  return timedJsonAnswer(c, () => c.json(out, 200), out, timing, handlerStarted);
});
