// Granularity and zero-point choices in quantize recipes: what is accepted, what each canonicalises to, what the
// quantizer is asked for, and the combinations a scheme cannot express, refused with the reason.
import { describe, expect, it } from "vitest";
import { canonicalJson, PER_CHANNEL_BLOCK, quantizeOptions, RecipeSchema } from "@worker/compress/recipe";

const parse = (quantize: object) => RecipeSchema.safeParse({ quantize });
const messages = (quantize: object) => {
  const r = parse(quantize);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("quantize recipe granularity and symmetry", () => {
  it("accepts per-tensor, per-channel and blocks for 8 bits, with or without zero points", () => {
    for (const granularity of ["per-tensor", "per-channel", { block: 64 }]) {
      for (const symmetric of [true, false]) expect(parse({ bits: 8, granularity, symmetric }).success).toBe(true);
    }
  });

  it("canonicalises a non-default choice into its own variant id", () => {
    const a = canonicalJson(RecipeSchema.parse({ quantize: { bits: 8, granularity: "per-tensor" } }));
    const b = canonicalJson(RecipeSchema.parse({ quantize: { bits: 8, symmetric: false } }));
    expect(a).toBe('{"quantize":{"bits":8,"granularity":"per-tensor","scheme":"weight-only","symmetric":true}}');
    expect(b).toBe('{"quantize":{"bits":8,"granularity":"per-channel","scheme":"weight-only","symmetric":false}}');
  });

  it("passes the choice to the quantizer, and gives per-node overrides their width's defaults", () => {
    const q8 = RecipeSchema.parse({ quantize: { bits: 8, granularity: { block: 32 }, symmetric: false } }).quantize!;
    expect(quantizeOptions(q8)).toEqual({ bits: 8, granularity: { block: 32 }, symmetric: false });
    expect(quantizeOptions(q8, 4)).toEqual({ bits: 4, block: 32 });
    const q4 = RecipeSchema.parse({ quantize: { bits: 4, granularity: "per-channel", symmetric: false } }).quantize!;
    expect(quantizeOptions(q4)).toEqual({ bits: 4, block: PER_CHANNEL_BLOCK, symmetric: false });
    expect(quantizeOptions(q4, 8)).toEqual({ bits: 8 });
  });

  it("refuses blocks and zero points for scheme 'dynamic', naming the field", () => {
    expect(messages({ bits: 8, scheme: "dynamic", granularity: { block: 32 } })).toEqual([expect.stringMatching(/^quantize.granularity: .*per-channel.*per-tensor/)]);
    expect(messages({ bits: 8, scheme: "dynamic", symmetric: false })).toEqual([expect.stringMatching(/^quantize.symmetric: .*weight-only/)]);
    expect(parse({ bits: 8, scheme: "dynamic", granularity: "per-tensor" }).success).toBe(true);
  });

  it("refuses a granularity a width does not have", () => {
    expect(parse({ bits: 4, granularity: "per-tensor" }).success).toBe(false);
    expect(parse({ bits: 8, granularity: { block: 24 } }).success).toBe(false);
    expect(parse({ bits: 8, granularity: "per-row" }).success).toBe(false);
  });
});
