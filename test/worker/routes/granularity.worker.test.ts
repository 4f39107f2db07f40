// Quantize recipes with other granularities and zero points through the API in workerd: made, listed by their
// canonical recipe, served, and close to the FP32 original served from the same Worker.
import { describe, expect, it } from "vitest";
import { buildMlp, randomInput } from "@test/support/models";
import { expectError, postJson, uploadModel } from "@test/support/api";

const INPUT = { input: { type: "float32", dims: [2, 48], data: randomInput(96, 21) } };

async function logits(path: string): Promise<number[]> {
  const res = await postJson(path, { inputs: INPUT });
  expect(res.status).toBe(200);
  return ((await res.json()) as { outputs: { logits: { data: number[] } } }).outputs.logits.data;
}

describe("granularity and zero points through the API", () => {
  const recipes = [
    { quantize: { bits: 8, granularity: "per-tensor" } },
    { quantize: { bits: 8, symmetric: false } },
    { quantize: { bits: 8, granularity: { block: 16 }, symmetric: false } },
    { quantize: { bits: 8, scheme: "dynamic", granularity: "per-tensor" } },
    { quantize: { bits: 4, granularity: "per-channel", symmetric: false } },
  ];
  for (const recipe of recipes) {
    it(`makes and serves ${JSON.stringify(recipe.quantize)} close to the FP32 original`, async () => {
      const model = (await (await uploadModel(buildMlp([48, 64, 10], 17))).json()) as { id: string };
      const res = await postJson(`/v1/models/${model.id}/variants`, recipe);
      expect(res.status).toBe(201);
      const v = (await res.json()) as { id: string; recipe: { quantize: Record<string, unknown> }; tensors: unknown[] };
      expect(v.recipe.quantize).toMatchObject(recipe.quantize);
      expect(v.tensors).toHaveLength(2);
      const ref = await logits(`/v1/models/${model.id}/infer?bits=32`);
      const got = await logits(`/v1/models/${model.id}/infer?variant=${v.id}`);
      const scale = Math.max(...ref.map(Math.abs));
      const diff = Math.max(...got.map((g, i) => Math.abs(g - ref[i]!)));
      // int8 ~1% of the output range on this model, 4-bit ~10%.
      expect(diff / scale).toBeLessThan(recipe.quantize.bits === 8 ? 0.03 : 0.25);
    });
  }

  it("refuses blocks for scheme 'dynamic' with 400 invalid_recipe naming the field", async () => {
    const model = (await (await uploadModel(buildMlp([48, 64, 10], 17))).json()) as { id: string };
    const err = await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8, scheme: "dynamic", granularity: { block: 32 } } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/granularity/);
  });
});
