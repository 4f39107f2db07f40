// /v1/models/:id/variants: make a variant from a recipe (content-addressed, made once), read and download it.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { requireModel } from "../catalog/models";
import { compressesBounded, requireBoundedApplicable } from "../catalog/bounded-variants";
import { findVariant, makeVariant, registerTrainedVariant, requireApplicableRecipe, requireVariant } from "../catalog/variants";
import { requireDataset } from "../catalog/datasets";
import { submitJob } from "../jobs/jobs";
import { SearchRequestSchema } from "../tune/search";
import { answerWithJob, JobSchema, WaitQuery } from "./jobs";
import { calibrationOf, RecipeSchema, TrainedRecipeSchema } from "../compress/recipe";
import { ApiError } from "../errors";
import { readBodyWithLimit } from "../store/body";
import { describeZodError } from "../app";
import { wholeUploadLimit } from "./body-limits";
import { errorResponses, ModelIdParam, NextCursor, PageQuery, VariantParams, VariantSchema, VariantSummarySchema } from "./schemas";
import { ONNX_MEDIA_TYPE } from "../store/content-coding";
import { onnxDownload } from "./models";

const EvalRequestSchema = z
  .object({ dataset: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits") })
  .strict()
  .openapi("EvalRequest");

const create = createRoute({
  method: "post",
  path: "/models/{id}/variants",
  summary: "Make (or find) the variant a recipe describes, optionally evaluated (`eval`); or search for one (`target`)",
  description:
    "Body: a Recipe plus optional `eval: {dataset}`, or a SearchRequest `{target, objective, dataset}` (with `prune` it allocates per-layer sparsity instead of bit-widths). A weight-only or dynamic recipe " +
    "without `eval` on a model under 8 MB answers at once (201/200); anything else runs as a job (202 + Location) unless `?wait=` sees it finish.",
  request: {
    params: ModelIdParam,
    query: WaitQuery,
    body: {
      content: { "application/json": { schema: z.record(z.string(), z.unknown()).openapi({ oneOf: [{ $ref: "#/components/schemas/Recipe" }, { $ref: "#/components/schemas/SearchRequest" }] }) } },
      required: true,
    },
  },
  responses: {
    201: { description: "Made", content: { "application/json": { schema: VariantSchema } } },
    200: { description: "Already made", content: { "application/json": { schema: VariantSchema } } },
    202: { description: "Running as a job", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses,
  },
});

const evaluate = createRoute({
  method: "post",
  path: "/models/{id}/variants/{vid}/evaluate",
  summary: "Evaluate a variant against FP32 on a dataset (a job); the report lands in the variant's `eval`",
  request: {
    params: VariantParams,
    query: WaitQuery,
    body: { content: { "application/json": { schema: EvalRequestSchema } }, required: true },
  },
  responses: {
    200: { description: "Evaluated (with ?wait)", content: { "application/json": { schema: VariantSchema } } },
    202: { description: "Running as a job", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses,
  },
});

/** Models at least this large always compress in a job (CPU time per request). */
const SYNC_MAX_MODEL_BYTES = 8 * 1024 * 1024;

function parseBody<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: unknown } }, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(400, "invalid_recipe", describeZodError(parsed.error as never));
  return parsed.data;
}

const trained = createRoute({
  method: "post",
  path: "/models/{id}/variants/trained",
  summary: "Register externally trained ONNX bytes (QAT, distillation, pruning) as a variant",
  request: {
    params: ModelIdParam,
    headers: z.object({
      "x-slimserve-recipe": z.string().max(8192).openapi({ description: 'JSON, e.g. {"trained":{"method":"qat","bits":8}}' }),
    }),
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    201: { description: "Registered", content: { "application/json": { schema: VariantSchema } } },
    200: { description: "Already registered", content: { "application/json": { schema: VariantSchema } } },
    ...errorResponses,
  },
});

/** The recipe header is JSON inside a header: parse and validate it with the same error as a recipe body. */
function parseTrainedRecipe(header: string) {
  let json: unknown;
  try {
    json = JSON.parse(header);
  } catch {
    throw new ApiError(400, "invalid_recipe", "X-Slimserve-Recipe is not JSON");
  }
  const parsed = TrainedRecipeSchema.safeParse(json);
  if (!parsed.success) throw new ApiError(400, "invalid_recipe", `X-Slimserve-Recipe: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

const list = createRoute({
  method: "get",
  path: "/models/{id}/variants",
  summary: "A model's variants (their summaries), a page at a time (by id)",
  request: { params: ModelIdParam, query: PageQuery },
  responses: {
    200: { description: "Variants", content: { "application/json": { schema: z.object({ variants: z.array(VariantSummarySchema), cursor: NextCursor }) } } },
    ...errorResponses,
  },
});

const get = createRoute({
  method: "get",
  path: "/models/{id}/variants/{vid}",
  summary: "A variant's record and report",
  request: { params: VariantParams },
  responses: { 200: { description: "Variant", content: { "application/json": { schema: VariantSchema } } }, ...errorResponses },
});

const download = createRoute({
  method: "get",
  path: "/models/{id}/variants/{vid}/onnx",
  summary: "Download the variant's ONNX bytes",
  request: { params: VariantParams },
  responses: {
    200: { description: "ONNX bytes", content: { [ONNX_MEDIA_TYPE]: { schema: z.string().openapi({ format: "binary" }) } } },
    ...errorResponses,
  },
});

export const variants = createRouter("invalid_recipe")
  .openapi(create, async (c) => {
    const tenant = c.get("tenant");
    const model = await requireModel(c.var.store, c.req.valid("param").id);
    const { wait } = c.req.valid("query");
    const body = c.req.valid("json");
    if ("target" in body) {
      const search = parseBody(SearchRequestSchema, body);
      await requireDataset(c.var.store, search.dataset);
      const job = await submitJob(c.env, tenant, "search", { modelId: model.id, ...search });
      return answerWithJob(c, job, wait, 200);
    }
    const { eval: evalRequest, ...recipeBody } = body;
    const recipe = parseBody(RecipeSchema, recipeBody);
    const ev = evalRequest === undefined ? undefined : parseBody(EvalRequestSchema, evalRequest);
    if (ev) await requireDataset(c.var.store, ev.dataset);
    const calibration = recipe.quantize && calibrationOf(recipe.quantize);
    if (calibration) await requireDataset(c.var.store, calibration.dataset);
    // Calibration (static ranges, GPTQ's Hessians) runs the model over a dataset: always a job.
    const needsJob = ev !== undefined || calibration !== undefined || model.bytes >= SYNC_MAX_MODEL_BYTES || compressesBounded(c.var.store, model);
    if (!needsJob) {
      const { created, variant } = await makeVariant(c.var.store, model, recipe);
      return c.json(variant, created ? 201 : 200);
    }
    const existing = await findVariant(c.var.store, model, recipe);
    if (existing && (!ev || existing.eval?.dataset === ev.dataset)) return c.json(existing, 200);
    // What the graph alone can refute is refused now, as the inline path would, not minutes later in the job.
    if (compressesBounded(c.var.store, model)) await requireBoundedApplicable(c.var.store, model, recipe, ev !== undefined);
    else if (!existing) await requireApplicableRecipe(c.var.store, model, recipe);
    const job = await submitJob(c.env, tenant, "variant", { modelId: model.id, recipe, ...(ev ? { eval: ev } : {}) }, true);
    return answerWithJob(c, job, wait, existing ? 200 : 201);
  })
  .openapi(evaluate, async (c) => {
    const tenant = c.get("tenant");
    const { id, vid } = c.req.valid("param");
    const model = await requireModel(c.var.store, id);
    await requireVariant(c.var.store, id, vid);
    const { dataset } = c.req.valid("json");
    await requireDataset(c.var.store, dataset);
    const job = await submitJob(c.env, tenant, "evaluate", { modelId: model.id, variantId: vid, dataset }, true);
    return answerWithJob(c, job, c.req.valid("query").wait, 200);
  })
  .openapi(trained, async (c) => {
    const model = await requireModel(c.var.store, c.req.valid("param").id);
    const recipe = parseTrainedRecipe(c.req.valid("header")["x-slimserve-recipe"]);
    const limit = wholeUploadLimit(c.env);
    const declared = c.req.header("Content-Length");
    const bytes = await readBodyWithLimit(c.req.raw.body, declared ? Number(declared) : undefined, limit);
    const { created, variant } = await registerTrainedVariant(c.var.store, model, bytes, recipe);
    return c.json(variant, created ? 201 : 200);
  })
  .openapi(list, async (c) => {
    const model = await requireModel(c.var.store, c.req.valid("param").id);
    const { cursor, limit } = c.req.valid("query");
    const page = await c.var.store.listVariantPage(model.id, cursor, limit);
    return c.json({ variants: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }, 200);
  })
  .openapi(get, async (c) => {
    const { id, vid } = c.req.valid("param");
    await requireModel(c.var.store, id);
    return c.json(await requireVariant(c.var.store, id, vid), 200);
  })
  .openapi(download, async (c) => {
    const { id, vid } = c.req.valid("param");
    await requireModel(c.var.store, id);
    const variant = await requireVariant(c.var.store, id, vid);
    const blob = await c.var.store.openVariantBytes(id, vid);
    return onnxDownload(blob, variant.sha256, `${id}-${vid}.onnx`);
  });

// The create route's body is one of these two (resolved in the handler): both belong in the document.
variants.openAPIRegistry.register("Recipe", RecipeSchema);
variants.openAPIRegistry.register("SearchRequest", SearchRequestSchema);
