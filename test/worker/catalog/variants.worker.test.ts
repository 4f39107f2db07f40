// A variant is stored only for a model that still exists: bytes first, record last, and a deletion that races the
// write leaves neither a record nor bytes behind; identical requests arriving together make one variant.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildVariant, makeVariant, storeVariant } from "@worker/catalog/variants";
import { deleteModel, requireModel } from "@worker/catalog/models";
import type { StoredVariant } from "@worker/store/records";
import { RecipeSchema } from "@worker/compress/recipe";
import { TenantStore } from "@worker/store/tenant";
import { api, postJson, uploadModel } from "@test/support/api";
import { buildMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";

const int8 = RecipeSchema.parse({ quantize: { bits: 8 } });

async function freshModel(seed: number, sizes = [8, 16, 4]) {
  const { id } = (await (await uploadModel(buildMlp(sizes, seed))).json()) as { id: string };
  const store = new TenantStore(env, "alpha");
  return { store, model: await requireModel(store, id) };
}

async function variantsLeft(modelId: string) {
  return {
    records: (await env.RECORDS.list({ prefix: `t:alpha:variant:${modelId}:` })).keys.length,
    bytes: (await env.BLOBS.list({ prefix: `t/alpha/variants/${modelId}/` })).objects.length,
  };
}

describe("storing a variant while its model is deleted", () => {
  it("refuses a variant built before the deletion with not_found and leaves no bytes", async () => {
    const { store, model } = await freshModel(11);
    const built = await buildVariant(store, model, int8, await store.readModelBytes(model.id));
    await deleteModel(store, model.id);
    await expect(storeVariant(store, built)).rejects.toMatchObject({ code: "not_found", message: expect.stringContaining("was deleted") });
    expect(await variantsLeft(model.id)).toEqual({ records: 0, bytes: 0 });
  });

  it("removes the record and bytes when the deletion passes between the check and the record's write", async () => {
    const { model } = await freshModel(12);
    // The deletion reaches the model's record just as the variant's record is being written.
    class Racing extends TenantStore {
      override async putVariant(record: StoredVariant): Promise<void> {
        await this.deleteModelRecord(record.modelId);
        await super.putVariant(record);
      }
    }
    const racing = new Racing(env, "alpha");
    const built = await buildVariant(racing, model, int8, await racing.readModelBytes(model.id));
    await expect(storeVariant(racing, built)).rejects.toMatchObject({ code: "not_found" });
    expect(await variantsLeft(model.id)).toEqual({ records: 0, bytes: 0 });
  });

  it("removes the bytes it wrote when the record's write fails", async () => {
    const { model } = await freshModel(13);
    class Failing extends TenantStore {
      override async putVariant(): Promise<void> {
        throw new Error("KV write failed");
      }
    }
    const failing = new Failing(env, "alpha");
    const built = await buildVariant(failing, model, int8, await failing.readModelBytes(model.id));
    await expect(storeVariant(failing, built)).rejects.toThrow("KV write failed");
    expect(await variantsLeft(model.id)).toEqual({ records: 0, bytes: 0 });
  });
});

describe("concurrent identical variant requests", () => {
  it("share one computation in the isolate: one variant, one set of bytes, one request told it created it", async () => {
    const { store, model } = await freshModel(14);
    const made = await Promise.all([1, 2, 3, 4, 5].map(() => makeVariant(store, model, int8)));
    expect(new Set(made.map((m) => m.variant.id)).size).toBe(1);
    expect(made.filter((m) => m.created)).toHaveLength(1);
    expect(new Set(made.map((m) => m.variant.createdAt)).size).toBe(1);
    expect(await variantsLeft(model.id)).toEqual({ records: 1, bytes: 1 });
  });

  it("through the API: six identical POSTs answer one 201 and five 200 with the same variant", async () => {
    const { model } = await freshModel(15);
    const answers = await Promise.all([...Array(6)].map(() => postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8 } })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(1);
    const listed = (await (await api(`/v1/models/${model.id}`)).json()) as { variants: { id: string }[] };
    expect(listed.variants.map((v) => v.id)).toEqual([ids[0]]);
    expect(await variantsLeft(model.id)).toEqual({ records: 1, bytes: 1 });
  });

  it("that run as jobs share one job, which makes one variant", async () => {
    const { model } = await freshModel(16, [16, 32, 32, 4]);
    // A static recipe always runs as a job: it needs a calibration dataset.
    const body = await npz({ input: npy("<f4", [32, 16], uniformFloats(32 * 16, 3)) });
    const ds = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
    const recipe = { quantize: { bits: 8, scheme: "static", calibration: { dataset: ds.id } } };
    const answers = await Promise.all([...Array(4)].map(() => postJson(`/v1/models/${model.id}/variants?wait=20`, recipe)));
    const bodies = await Promise.all(answers.map(async (r) => ({ status: r.status, body: (await r.json()) as { id: string } })));
    for (const b of bodies) expect([200, 201, 202]).toContain(b.status);
    // Those that saw the job finish answer its variant; any still waiting answer the one job they all joined.
    expect(new Set(bodies.filter((b) => b.status !== 202).map((b) => b.body.id)).size).toBeLessThanOrEqual(1);
    expect(new Set(bodies.filter((b) => b.status === 202).map((b) => b.body.id)).size).toBeLessThanOrEqual(1);
    expect(await variantsLeft(model.id)).toEqual({ records: 1, bytes: 1 });
  });
});
