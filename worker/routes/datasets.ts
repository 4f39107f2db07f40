// /v1/datasets: upload a .npz/.npy (raw bytes), list, read, delete. Used for calibration and evaluation.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { deleteDataset, listDatasets, registerDataset, requireDataset } from "../catalog/datasets";
import { readBodyWithLimit } from "../store/body";
import { wholeUploadLimit } from "./body-limits";
import { errorResponses, ErrorSchema, NextCursor, PageQuery } from "./schemas";

export const DatasetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    sha256: z.string(),
    bytes: z.number(),
    format: z.enum(["npz", "npy"]),
    samples: z.number(),
    arrays: z.array(z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.number()) })),
    hasLabels: z.boolean(),
    createdAt: z.string(),
  })
  .openapi("Dataset");

export type Dataset = z.infer<typeof DatasetSchema>;

export const DatasetIdParam = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits").openapi({ param: { name: "id", in: "path" } }),
});

const upload = createRoute({
  method: "post",
  path: "/datasets",
  summary: "Upload a dataset: .npz (arrays named after the model inputs, optional `labels`) or .npy",
  request: {
    query: z.object({ name: z.string().min(1).max(128).optional() }),
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    201: { description: "Stored", content: { "application/json": { schema: DatasetSchema } } },
    200: { description: "Identical bytes were already stored", content: { "application/json": { schema: DatasetSchema } } },
    413: { description: "Over the upload limit", content: { "application/json": { schema: ErrorSchema } } },
    ...errorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/datasets",
  summary: "List the tenant's datasets, a page at a time (by id)",
  request: { query: PageQuery },
  responses: {
    200: { description: "Datasets", content: { "application/json": { schema: z.object({ datasets: z.array(DatasetSchema), cursor: NextCursor }) } } },
    ...errorResponses,
  },
});

const get = createRoute({
  method: "get",
  path: "/datasets/{id}",
  summary: "A dataset's record",
  request: { params: DatasetIdParam },
  responses: { 200: { description: "Dataset", content: { "application/json": { schema: DatasetSchema } } }, ...errorResponses },
});

const remove = createRoute({
  method: "delete",
  path: "/datasets/{id}",
  summary: "Delete a dataset and its bytes",
  request: { params: DatasetIdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export const datasets = createRouter("invalid_request")
  .openapi(upload, async (c) => {
    const limit = wholeUploadLimit(c.env);
    const declared = c.req.header("Content-Length");
    const bytes = await readBodyWithLimit(c.req.raw.body, declared ? Number(declared) : undefined, limit);
    const { created, dataset } = await registerDataset(c.var.store, bytes, c.req.valid("query").name);
    return c.json(dataset, created ? 201 : 200);
  })
  .openapi(list, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    const page = await listDatasets(c.var.store, cursor, limit);
    return c.json({ datasets: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }, 200);
  })
  .openapi(get, async (c) => c.json(await requireDataset(c.var.store, c.req.valid("param").id), 200))
  .openapi(remove, async (c) => {
    await deleteDataset(c.var.store, c.req.valid("param").id);
    return c.body(null, 204);
  });
