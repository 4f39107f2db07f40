// /v1/models/:id/variants: make a variant from a recipe (content-addressed, made once), read and download it.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { openBlob, requireModel } from "../catalog/models";
import { makeVariant, registerTrainedVariant, requireVariant } from "../catalog/variants";
import { RecipeSchema, TrainedRecipeSchema } from "../compress/recipe";
import { ApiError } from "../errors";
import { readBodyWithLimit } from "../store/body";
import { describeZodError } from "../app";
import { DEFAULT_MAX_UPLOAD_BYTES } from "./models";
import { variantBlobKey } from "../store/keys";
import { errorResponses, ModelIdParam, VariantParams, VariantSchema } from "./schemas";
import { onnxDownload } from "./models";

const create = createRoute({
  method: "post",
  path: "/models/{id}/variants",
  summary: "Make (or find) the variant a recipe describes",
  request: {
    params: ModelIdParam,
    body: { content: { "application/json": { schema: RecipeSchema } }, required: true },
  },
  responses: {
    201: { description: "Made", content: { "application/json": { schema: VariantSchema } } },
    200: { description: "Already made", content: { "application/json": { schema: VariantSchema } } },
    ...errorResponses,
  },
});

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
    200: { description: "ONNX bytes", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    ...errorResponses,
  },
});

export const variants = createRouter("invalid_recipe")
  .openapi(create, async (c) => {
    const tenant = c.get("tenant");
    const model = await requireModel(c.env, tenant, c.req.valid("param").id);
    const { created, variant } = await makeVariant(c.env, tenant, model, c.req.valid("json"));
    return c.json(variant, created ? 201 : 200);
  })
  .openapi(trained, async (c) => {
    const tenant = c.get("tenant");
    const model = await requireModel(c.env, tenant, c.req.valid("param").id);
    const recipe = parseTrainedRecipe(c.req.valid("header")["x-slimserve-recipe"]);
    const limit = Number(c.env.MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES);
    const declared = c.req.header("Content-Length");
    const bytes = await readBodyWithLimit(c.req.raw.body, declared ? Number(declared) : undefined, limit);
    const { created, variant } = await registerTrainedVariant(c.env, tenant, model, bytes, recipe);
    return c.json(variant, created ? 201 : 200);
  })
  .openapi(get, async (c) => {
    const { id, vid } = c.req.valid("param");
    const tenant = c.get("tenant");
    await requireModel(c.env, tenant, id);
    return c.json(await requireVariant(c.env, tenant, id, vid), 200);
  })
  .openapi(download, async (c) => {
    const { id, vid } = c.req.valid("param");
    const tenant = c.get("tenant");
    await requireModel(c.env, tenant, id);
    const variant = await requireVariant(c.env, tenant, id, vid);
    const blob = await openBlob(c.env, variantBlobKey(tenant, id, vid), "variant");
    return onnxDownload(blob, variant.sha256, `${id}-${vid}.onnx`, c.req.header("Accept-Encoding"));
  });
