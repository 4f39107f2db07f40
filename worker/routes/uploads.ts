// /v1/uploads: a model uploaded in parts (resumable): plan it, send parts in any order and again when one fails,
// complete it into a model (201, or 200 when the bytes were already stored), or abort it. A file of external data
// (planned with its location) is uploaded the same way, and completing it keeps it for the model that names it.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import {
  abortUpload,
  completeUpload,
  createUpload,
  MAX_EXTERNAL_FILES,
  MAX_PART_BYTES,
  MAX_PARTS,
  MAX_UPLOAD_TOTAL_BYTES,
  MIN_PART_BYTES,
  putPart,
  requireUpload,
  viewOf,
} from "../catalog/uploads";
import { errorResponses, ErrorSchema, ModelSchema } from "./schemas";

export const UploadIdString = z.string().regex(/^[0-9a-f]{24}$/, "upload ids are 24 hex digits");

export const UploadPlanSchema = z
  .object({
    totalBytes: z.number().int().min(1).max(MAX_UPLOAD_TOTAL_BYTES).openapi({ description: "The model's size in bytes" }),
    partBytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_PART_BYTES)
      .openapi({ description: `Every part's size but the last's: at least ${MIN_PART_BYTES} (5 MiB) when there are several, at most ${MAX_PART_BYTES}; at most ${MAX_PARTS} parts` }),
    name: z.string().min(1).max(128).optional(),
    location: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .openapi({ description: "Makes this a file of external data, not a model: the location the model's tensors name it by (a path relative to the model, such as model.onnx.data)" }),
    externalData: z
      .array(UploadIdString)
      .min(1)
      .max(MAX_EXTERNAL_FILES)
      .optional()
      .openapi({ description: "The model's files of external data, by their uploads' ids (each complete before this upload completes)" }),
  })
  .strict()
  .openapi("UploadPlan");

export const UploadSchema = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    totalBytes: z.number(),
    partBytes: z.number(),
    parts: z.number().openapi({ description: "Parts numbered 1 to parts; each holds partBytes but the last, lastPartBytes" }),
    lastPartBytes: z.number(),
    createdAt: z.string(),
    expiresAt: z.string().openapi({ description: "Past this the upload is gone and its parts are dropped" }),
    location: z.string().optional().openapi({ description: "A file of external data: the location the model names it by" }),
    completedAt: z.string().optional().openapi({ description: "A file whose parts are joined: it waits for the model that names it" }),
    externalData: z.array(z.string()).optional().openapi({ description: "A model's files of external data, by upload id" }),
  })
  .openapi("Upload");

export const UploadedPartSchema = z
  .object({ partNumber: z.number(), etag: z.string(), bytes: z.number() })
  .openapi("UploadedPart");

export const CompleteUploadSchema = z
  .object({
    parts: z
      // A part's answer as it came (its `bytes` too) names it.
      .array(z.object({ partNumber: z.number().int().min(1).max(MAX_PARTS), etag: z.string().min(1).max(256), bytes: z.number().optional() }))
      .min(1)
      .max(MAX_PARTS)
      .openapi({ description: "Every part, by the etag its last answer gave" }),
  })
  .strict()
  .openapi("CompleteUpload");

const UploadIdParam = z.object({
  id: UploadIdString.openapi({ param: { name: "id", in: "path" } }),
});

const PartParams = UploadIdParam.extend({
  part: z.coerce.number().int().min(1).max(MAX_PARTS).openapi({ param: { name: "part", in: "path" } }),
});

const create = createRoute({
  method: "post",
  path: "/uploads",
  summary: "Plan a model upload in parts (for models over the single-request limit, or for resumable uploads)",
  request: { body: { content: { "application/json": { schema: UploadPlanSchema } }, required: true } },
  responses: {
    201: { description: "Planned", content: { "application/json": { schema: UploadSchema } } },
    403: { description: "The model would not fit the tenant's quota", content: { "application/json": { schema: ErrorSchema } } },
    413: { description: "Over 2 GiB", content: { "application/json": { schema: ErrorSchema } } },
    ...errorResponses,
  },
});

const get = createRoute({
  method: "get",
  path: "/uploads/{id}",
  summary: "An upload in progress: its plan and when it expires",
  request: { params: UploadIdParam },
  responses: { 200: { description: "Upload", content: { "application/json": { schema: UploadSchema } } }, ...errorResponses },
});

const part = createRoute({
  method: "put",
  path: "/uploads/{id}/parts/{part}",
  summary: "Send one part (raw bytes, exactly its planned size); sending it again replaces it",
  request: {
    params: PartParams,
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: { 200: { description: "Stored", content: { "application/json": { schema: UploadedPartSchema } } }, ...errorResponses },
});

const complete = createRoute({
  method: "post",
  path: "/uploads/{id}/complete",
  summary: "Join the parts into the model, validate it and store it (a file of external data: join it and keep it for its model)",
  request: { params: UploadIdParam, body: { content: { "application/json": { schema: CompleteUploadSchema } }, required: true } },
  responses: {
    201: { description: "Stored", content: { "application/json": { schema: ModelSchema } } },
    200: {
      description: "Identical bytes were already stored (a model), or a file of external data is complete (the upload)",
      content: { "application/json": { schema: z.union([ModelSchema, UploadSchema]) } },
    },
    ...errorResponses,
  },
});

const abort = createRoute({
  method: "delete",
  path: "/uploads/{id}",
  summary: "Abort an upload: its parts are dropped",
  request: { params: UploadIdParam },
  responses: { 204: { description: "Aborted" }, ...errorResponses },
});

export const uploads = createRouter("invalid_request")
  .openapi(create, async (c) => c.json(await createUpload(c.var.store, c.req.valid("json")), 201))
  .openapi(get, async (c) => c.json(viewOf(await requireUpload(c.var.store, c.req.valid("param").id)), 200))
  .openapi(part, async (c) => {
    const { id, part: n } = c.req.valid("param");
    const header = c.req.header("Content-Length");
    return c.json(await putPart(c.var.store, id, n, c.req.raw.body, header ? Number(header) : undefined), 200);
  })
  .openapi(complete, async (c) => {
    const done = await completeUpload(c.var.store, c.req.valid("param").id, c.req.valid("json").parts);
    if ("file" in done) return c.json(done.file, 200);
    return c.json(done.model, done.created ? 201 : 200);
  })
  .openapi(abort, async (c) => {
    await abortUpload(c.var.store, c.req.valid("param").id);
    return c.body(null, 204);
  });

export type Upload = z.infer<typeof UploadSchema>;
