// /v1/models: upload (raw ONNX bytes), list, read, delete, download the original.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { listModels, registerModel, requireModel, withVariants } from "../catalog/models";
import { MAX_EXTERNAL_FILES, registerStreamedModel } from "../catalog/uploads";
import { deleteModelAndJobs } from "../jobs/jobs";
import { readBodyWithLimit } from "../store/body";
import { ONNX_MEDIA_TYPE } from "../store/content-coding";
import { BUFFERED_UPLOAD_BYTES, uploadLimit } from "./body-limits";
import { errorResponses, ErrorSchema, ModelIdParam, ModelSchema, NextCursor, PageQuery } from "./schemas";
import { UploadIdString } from "./uploads";

const upload = createRoute({
  method: "post",
  path: "/models",
  summary: "Upload an ONNX model (raw bytes, up to MAX_UPLOAD_BYTES, 100 MB by default; larger ones go in parts: /v1/uploads)",
  request: {
    query: z.object({
      name: z.string().min(1).max(128).optional(),
      externalData: z
        .string()
        .transform((v) => v.split(","))
        .pipe(z.array(UploadIdString).min(1).max(MAX_EXTERNAL_FILES))
        .optional()
        .openapi({ type: "string", description: "The model's files of external data: their uploads' ids (/v1/uploads with a location), comma-separated" }),
    }),
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    201: { description: "Stored", content: { "application/json": { schema: ModelSchema } } },
    200: { description: "Identical bytes were already stored", content: { "application/json": { schema: ModelSchema } } },
    413: { description: "Over the upload limit", content: { "application/json": { schema: ErrorSchema } } },
    ...errorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/models",
  summary: "List the tenant's models, a page at a time (by id)",
  request: { query: PageQuery },
  responses: {
    200: { description: "Models", content: { "application/json": { schema: z.object({ models: z.array(ModelSchema.omit({ variants: true })), cursor: NextCursor }) } } },
    ...errorResponses,
  },
});

const get = createRoute({
  method: "get",
  path: "/models/{id}",
  summary: "A model and its variants",
  request: { params: ModelIdParam },
  responses: { 200: { description: "Model", content: { "application/json": { schema: ModelSchema } } }, ...errorResponses },
});

const remove = createRoute({
  method: "delete",
  path: "/models/{id}",
  summary: "Delete a model, its variants and their bytes; cancels the jobs working on it",
  request: { params: ModelIdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

const download = createRoute({
  method: "get",
  path: "/models/{id}/onnx",
  summary: "Download the original ONNX bytes",
  request: { params: ModelIdParam },
  responses: {
    200: { description: "ONNX bytes", content: { [ONNX_MEDIA_TYPE]: { schema: z.string().openapi({ format: "binary" }) } } },
    ...errorResponses,
  },
});

export const models = createRouter("invalid_request")
  .openapi(upload, async (c) => {
    const limit = uploadLimit(c.env);
    const header = c.req.header("Content-Length");
    const declared = header ? Number(header) : undefined;
    const { name, externalData } = c.req.valid("query");
    const body = c.req.raw.body;
    // A body known to be small is validated in memory; a large one, one of unknown length, or a graph whose external
    // data is joined to it in R2, streams to R2.
    const streamed = body !== null && (declared === undefined || declared > BUFFERED_UPLOAD_BYTES || externalData !== undefined);
    if (streamed && (declared === undefined || declared <= limit)) {
      const { created, model } = await registerStreamedModel(c.var.store, body, declared, limit, name, externalData);
      return c.json(model, created ? 201 : 200);
    }
    const bytes = await readBodyWithLimit(body, declared, limit);
    const { created, model } = await registerModel(c.var.store, bytes, name);
    return c.json(model, created ? 201 : 200);
  })
  .openapi(list, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    const page = await listModels(c.var.store, cursor, limit);
    return c.json({ models: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }, 200);
  })
  .openapi(get, async (c) => {
    const record = await requireModel(c.var.store, c.req.valid("param").id);
    return c.json(await withVariants(c.var.store, record), 200);
  })
  .openapi(remove, async (c) => {
    await deleteModelAndJobs(c.env, c.var.store, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(download, async (c) => {
    const record = await requireModel(c.var.store, c.req.valid("param").id);
    const blob = await c.var.store.openModelBytes(record.id);
    return onnxDownload(blob, record.sha256, `${record.name}.onnx`);
  });

/**
 * Streams stored ONNX bytes exactly as stored: their content address as a strong ETag, Content-Length, no
 * Content-Encoding. A client that accepts gzip or br gets them compressed by the front line (../store/content-coding.ts),
 * which is why the response varies on Accept-Encoding although this function never reads it.
 */
export function onnxDownload(blob: R2ObjectBody, sha256: string, filename: string): Response {
  return new Response(blob.body, {
    status: 200,
    headers: {
      "Content-Type": ONNX_MEDIA_TYPE,
      "Content-Length": String(blob.size),
      ETag: `"${sha256}"`,
      Vary: "Accept-Encoding",
      "Content-Disposition": `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
    },
  });
}
