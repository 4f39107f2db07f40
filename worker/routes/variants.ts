// /v1/models/:id/variants: make a variant from a recipe (content-addressed, made once), read and download it.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { openBlob, requireModel } from "../catalog/models";
import { makeVariant, requireVariant } from "../catalog/variants";
import { RecipeSchema } from "../compress/recipe";
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
    return onnxDownload(blob, variant.sha256, `${id}-${vid}.onnx`);
  });
