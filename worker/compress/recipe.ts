// Compression recipes: the zod schema that validates them and the canonical form (defaults filled in,
// keys sorted) whose hash, with the model's, addresses a variant.
import { z } from "@hono/zod-openapi";

export const QuantizeRecipeSchema = z
  .object({
    bits: z.literal(8).describe("Weight bit-width. 8 = int8 weight-only, per output channel, symmetric."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z.literal("per-channel").default("per-channel"),
    symmetric: z.literal(true).default(true),
  })
  .strict();

export const RecipeSchema = z
  .object({
    quantize: QuantizeRecipeSchema,
  })
  .strict()
  .openapi("Recipe");

export type Recipe = z.infer<typeof RecipeSchema>;

/** JSON with object keys sorted at every level: one spelling per recipe. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What produced an externally trained variant (the training script's `--upload`): recorded, never executed.
 * `bits` is the weight bit-width the training targeted (32 when absent), used by `?bits=`.
 */
export const TrainedRecipeSchema = z
  .object({
    trained: z
      .object({
        method: z.string().min(1).max(64),
        bits: z.union([z.literal(32), z.literal(16), z.literal(8), z.literal(4), z.literal(2), z.literal(1)]).optional(),
      })
      .catchall(z.union([z.string().max(256), z.number(), z.boolean(), z.null(), z.array(z.union([z.string().max(256), z.number()])).max(64)])),
  })
  .strict()
  .openapi("TrainedRecipe");

export type TrainedRecipe = z.infer<typeof TrainedRecipeSchema>;

/** The recipe's bit-width, used to pick a variant by `?bits=`. */
export function recipeBits(recipe: Recipe): number {
  return recipe.quantize.bits;
}
