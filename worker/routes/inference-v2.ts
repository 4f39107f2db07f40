// /v2: the Open Inference Protocol (KServe V2) over HTTP, beside /v1: server live, ready and metadata (no token), model
// ready and metadata, and inference with the binary tensor data extension. Errors are {"error": "<message>"}.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { describeZodError, handleV2Error } from "../app";
import { bearerAuth } from "../auth";
import { ApiError } from "../errors";
import type { AppEnv } from "../env";
import { inferV2, resolveV2Target, v2ModelMetadata, type V2Body } from "../traffic/inference-v2";
import { headerLengthOf, splitV2Body } from "../serve/inference-v2";
import { timedAnswer, timedJsonAnswer } from "../serve/server-timing";
import { readBodyWithLimit } from "../store/body";
import { ARM_HEADER, REQUEST_HEADER } from "../traffic/arms";
import { HEADER_LENGTH_HEADER, joinBinaryBody } from "../../formats/inference-v2.js";
import { MAX_JSON_BYTES, MAX_TENSOR_BODY_BYTES } from "./body-limits";
import { ServerTimingHeaderSchema } from "./infer";

const V2ErrorSchema = z.object({ error: z.string() }).openapi("V2Error");
const v2Errors = {
  400: { description: "Invalid request (the message names the tensor)", content: { "application/json": { schema: V2ErrorSchema } } },
  401: { description: "Missing or unknown bearer token", content: { "application/json": { schema: V2ErrorSchema } } },
  404: { description: "No model, variant or experiment of that name", content: { "application/json": { schema: V2ErrorSchema } } },
} as const;

const Parameters = z.record(z.string(), z.unknown());

const V2InputSchema = z
  .object({
    name: z.string().min(1),
    shape: z.array(z.number().int().min(0)),
    datatype: z.string(),
    parameters: Parameters.optional().openapi({ description: "binary_data_size: the tensor's bytes after the JSON header" }),
    data: z.unknown().optional().openapi({ description: "Row-major values (flat or nested); absent when binary_data_size is given" }),
  })
  .openapi("V2RequestInput");

export const V2InferRequestSchema = z
  .object({
    id: z.string().optional(),
    parameters: Parameters.optional().openapi({ description: "binary_data_output: true returns every output as binary data" }),
    inputs: z.array(V2InputSchema).min(1),
    outputs: z
      .array(z.object({ name: z.string().min(1), parameters: Parameters.optional().openapi({ description: "binary_data: true returns this output as binary data" }) }))
      .optional(),
  })
  .openapi("V2InferRequest");

const V2OutputSchema = z
  .object({ name: z.string(), datatype: z.string(), shape: z.array(z.number()), data: z.array(z.unknown()).optional(), parameters: Parameters.optional() })
  .openapi("V2ResponseOutput");

export const V2InferResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string().optional(),
    id: z.string().optional(),
    parameters: Parameters.openapi({ description: "model, variant, bits, engine, time_ms; through an experiment also arm and request_id" }),
    outputs: z.array(V2OutputSchema),
  })
  .openapi("V2InferResponse");

const TensorMetadataSchema = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number()).openapi({ description: "-1 for a symbolic dimension" }) });
export const V2ModelMetadataSchema = z
  .object({ name: z.string(), versions: z.array(z.string()), platform: z.string(), inputs: z.array(TensorMetadataSchema), outputs: z.array(TensorMetadataSchema) })
  .openapi("V2ModelMetadata");

const ModelParam = z.object({
  model: z.string().min(1).openapi({ param: { name: "model", in: "path" }, description: "A model id, a variant id, an experiment's name or a model's name" }),
});
const VersionParams = ModelParam.extend({
  version: z.string().min(1).openapi({ param: { name: "version", in: "path" }, description: "A variant id, or a bit-width (32 is the original)" }),
});

/** A zod failure as a 400 that names the tensor where it can (inputs.3 -> tensor 'x'). */
function invalid(error: ZodError, raw: unknown): ApiError {
  const issue = error.issues[0];
  const at = issue?.path[0] === "inputs" && typeof issue.path[1] === "number" ? (raw as { inputs?: { name?: unknown }[] }).inputs?.[issue.path[1]]?.name : undefined;
  return new ApiError(400, "invalid_input", `${typeof at === "string" ? `tensor '${at}': ` : ""}${describeZodError(error)}`);
}

const v2 = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw new ApiError(400, "invalid_request", describeZodError(result.error as ZodError));
  },
});
v2.onError(handleV2Error);

const SERVER = { name: "slimserve", version: "1", extensions: ["binary_tensor_data"] };

v2.openapi(
  createRoute({ method: "get", path: "/", summary: "V2 server metadata (no token needed)", security: [], responses: { 200: { description: "Server", content: { "application/json": { schema: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }) } } } } }),
  (c) => c.json(SERVER, 200),
);
for (const which of ["live", "ready"] as const) {
  v2.openapi(
    createRoute({ method: "get", path: `/health/${which}`, summary: `V2 server ${which} (no token needed)`, security: [], responses: { 200: { description: which, content: { "application/json": { schema: z.object({ [which]: z.boolean() }) } } } } }),
    (c) => c.json({ [which]: true }, 200),
  );
}

// Every other /v2 route is the tenant's; auth errors too answer in the V2 shape.
v2.use("/models/*", bearerAuth);

for (const [path, params] of [["/models/{model}", ModelParam], ["/models/{model}/versions/{version}", VersionParams]] as const) {
  v2.openapi(
    createRoute({ method: "get", path, summary: "V2 model metadata", request: { params }, responses: { 200: { description: "Metadata", content: { "application/json": { schema: V2ModelMetadataSchema } } }, ...v2Errors } }),
    async (c) => {
      const p = c.req.valid("param") as { model: string; version?: string };
      const target = await resolveV2Target(c.env, c.var.store, p.model, p.version);
      return c.json(await v2ModelMetadata(c.var.store, target), 200);
    },
  );
  // Ready once it resolves: sessions load on first use, so a stored model is always ready to serve.
  v2.openapi(
    createRoute({ method: "get", path: `${path}/ready`, summary: "V2 model ready", request: { params }, responses: { 200: { description: "Ready", content: { "application/json": { schema: z.object({ name: z.string(), ready: z.boolean() }) } } }, ...v2Errors } }),
    async (c) => {
      const p = c.req.valid("param") as { model: string; version?: string };
      await resolveV2Target(c.env, c.var.store, p.model, p.version);
      return c.json({ name: p.model, ready: true }, 200);
    },
  );

  const infer = createRoute({
    method: "post",
    path: `${path}/infer`,
    summary: "V2 inference (JSON, binary tensor data after an Inference-Header-Content-Length JSON header, or a raw body for a one-input model)",
    request: {
      params,
      headers: z.object({ [HEADER_LENGTH_HEADER]: z.string().optional().openapi({ description: "Bytes of JSON before the binary tensor data; 0 for a raw body" }) }),
      body: {
        content: {
          "application/json": { schema: V2InferRequestSchema },
          "application/octet-stream": { schema: z.string().openapi({ format: "binary", description: "JSON header then binary tensors, or the one input's raw bytes" }) },
        },
        required: true,
      },
    },
    responses: {
      200: {
        description: "Outputs; with binary outputs the body is the JSON response then their data (Inference-Header-Content-Length gives the JSON's length)",
        headers: z.object({ "Server-Timing": ServerTimingHeaderSchema }),
        content: { "application/json": { schema: V2InferResponseSchema }, "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...v2Errors,
      413: { description: "Body over 16 MiB (MAX_TENSOR_BODY_BYTES), or its JSON over 4 MiB (MAX_JSON_BYTES)", content: { "application/json": { schema: V2ErrorSchema } } },
    },
  });
  // Registered for the document only: the handler reads the body itself (JSON, or JSON then binary, or raw bytes).
  v2.openAPIRegistry.registerPath(infer);
  v2.post(`${path}/infer`.replace(/\{(\w+)\}/g, ":$1"), async (c) => {
    const declared = c.req.header("Content-Length");
    // A JSON body was read (under MAX_JSON_BYTES) by the body-limits middleware: reading it again would copy it twice more.
    const headerLength = c.req.header(HEADER_LENGTH_HEADER);
    // The binary tensors start after the JSON header: read so that they start 8-byte aligned, and decode as views.
    const alignAt = headerLength === undefined ? 0 : headerLengthOf(headerLength) || 0;
    const bytes = c.var.body ?? (await readBodyWithLimit(c.req.raw.body, declared ? Number(declared) : undefined, MAX_TENSOR_BODY_BYTES, undefined, alignAt));
    const split = splitV2Body(bytes, headerLength, c.req.header("Content-Type"), MAX_JSON_BYTES);
    let body: V2Body;
    if (split.kind === "raw") body = split;
    else {
      const parsed = V2InferRequestSchema.safeParse(split.header);
      if (!parsed.success) throw invalid(parsed.error, split.header);
      body = { kind: "header", request: parsed.data, binary: split.binary };
    }
    const handlerStarted = performance.now();
    const target = await resolveV2Target(c.env, c.var.store, c.req.param("model")!, c.req.param("version"));
    const served = await inferV2(c.env, c.executionCtx, c.var.store, target, body, (h) => c.req.header(h));
    if (served.experiment) {
      c.header(ARM_HEADER, served.experiment.arm);
      c.header(REQUEST_HEADER, served.experiment.requestId);
    }
    const marks = { received: c.var.received, handlerStarted };
    if (served.chunks.length === 0) {
      return timedJsonAnswer(c, () => c.json(served.response, 200), served.response, served.timing, handlerStarted);
    }
    return timedAnswer(
      () => {
        const { body: out, headerLength } = joinBinaryBody(served.response, served.chunks);
        return c.body(out, 200, { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(headerLength) });
      },
      served.timing,
      marks,
    );
  });
}

export { v2 as inferenceV2 };
