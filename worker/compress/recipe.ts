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

/** The recipe's bit-width, used to pick a variant by `?bits=`. */
export function recipeBits(recipe: Recipe): number {
  return recipe.quantize.bits;
}
