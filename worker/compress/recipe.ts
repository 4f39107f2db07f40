// Compression recipes: the zod schema that validates them and the canonical form (defaults filled in,
// keys sorted) whose hash, with the model's, addresses a variant.
import { z } from "@hono/zod-openapi";

// One schema per bit-width, discriminated by `bits`; defaults fill the canonical form (bits 8's is unchanged, so
// existing variant ids stay stable). New schemes extend these objects with keys of their own.
const Int8RecipeSchema = z
  .object({
    bits: z.literal(8).describe("8 = int8 weight-only, per output channel, symmetric."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z.literal("per-channel").default("per-channel"),
    symmetric: z.literal(true).default(true),
  })
  .strict();

const Fp16RecipeSchema = z
  .object({
    bits: z.literal(16).describe("16 = float16 weights (a Cast back to float in the graph)."),
    scheme: z.literal("weight-only").default("weight-only"),
  })
  .strict();

const Int4RecipeSchema = z
  .object({
    bits: z.literal(4).describe("4 = int4 weight-only, symmetric, one scale per block of inputs (per output channel for Conv)."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z
      .object({ block: z.number().int().min(16).max(4096).refine((b) => (b & (b - 1)) === 0, "block must be a power of two") })
      .strict()
      .default({ block: 32 }),
    symmetric: z.literal(true).default(true),
  })
  .strict();

const BinaryRecipeSchema = z
  .object({
    bits: z.literal(1).describe("1 = binary weights sign(w) * mean|w| per output channel."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z.literal("per-channel").default("per-channel"),
    symmetric: z.literal(true).default(true),
  })
  .strict();

export const QuantizeRecipeSchema = z.discriminatedUnion("bits", [Int8RecipeSchema, Fp16RecipeSchema, Int4RecipeSchema, BinaryRecipeSchema]);

export type QuantizeRecipe = z.infer<typeof QuantizeRecipeSchema>;

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

/** The quantizer's options for a recipe. */
export function quantizeOptions(q: QuantizeRecipe): { bits: 8 } | { bits: 16 } | { bits: 4; block: number } | { bits: 1 } {
  return q.bits === 4 ? { bits: 4, block: q.granularity.block } : { bits: q.bits };
}
