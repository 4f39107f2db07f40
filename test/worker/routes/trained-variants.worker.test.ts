import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildMlp, buildNonFiniteMlp, randomInput } from "@test/support/models";
import { api, expectError, postJson, sha256Hex, uploadModel } from "@test/support/api";

function postTrained(modelId: string, bytes: Uint8Array, recipe: string | null) {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (recipe !== null) headers["X-Slimserve-Recipe"] = recipe;
  return api(`/v1/models/${modelId}/variants/trained`, { method: "POST", headers, body: bytes });
}

async function parent(): Promise<string> {
  return ((await (await uploadModel(buildMlp([8, 16, 4], 1))).json()) as { id: string }).id;
}

const QAT = JSON.stringify({ trained: { method: "qat", bits: 8, epochs: 3, dataset: "mnist" } });

describe("POST /v1/models/:id/variants/trained", () => {
  it("registers trained bytes as a variant (201), then finds them again (200), and serves them", async () => {
    const id = await parent();
    const trained = buildMlp([8, 16, 4], 99);
    const res = await postTrained(id, trained, QAT);
    expect(res.status).toBe(201);
    const v = (await res.json()) as { id: string; bits: number; sha256: string; recipe: unknown; compressionRatio: number };
    expect(v).toMatchObject({ bits: 8, recipe: JSON.parse(QAT), sha256: await sha256Hex(trained.slice().buffer) });
    expect((await postTrained(id, trained, QAT)).status).toBe(200);
    const body = { inputs: { input: { type: "float32", dims: [1, 8], data: randomInput(8, 4) } } };
    const answer = (await (await postJson(`/v1/models/${id}/infer?variant=${v.id}`, body)).json()) as { variant: string; bits: number };
    expect(answer).toMatchObject({ variant: v.id, bits: 8 });
    const download = await api(`/v1/models/${id}/variants/${v.id}/onnx`);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(trained);
  });

  it("gives different trained bytes under the same recipe different ids", async () => {
    const id = await parent();
    const a = (await (await postTrained(id, buildMlp([8, 16, 4], 5), QAT)).json()) as { id: string };
    const b = (await (await postTrained(id, buildMlp([8, 16, 4], 6), QAT)).json()) as { id: string };
    expect(a.id).not.toBe(b.id);
  });

  it("rejects a model whose inputs differ from the parent's with 400 invalid_model", async () => {
    const id = await parent();
    const err = await expectError(await postTrained(id, buildMlp([9, 16, 4], 5), QAT));
    expect(err).toMatchObject({ status: 400, code: "invalid_model" });
    expect(err.message).toMatch(/must keep its parent's inputs \(input:float32\[N,8\]\)/);
  });

  it("refuses bytes that load but answer non-finite values with 422 variant_failed naming the output, storing nothing", async () => {
    const id = await parent();
    const blobs = (await env.BLOBS.list()).objects.map((o) => o.key);
    const records = (await env.RECORDS.list()).keys.map((k) => k.name);
    const err = await expectError(await postTrained(id, buildNonFiniteMlp(), QAT));
    expect(err).toMatchObject({ status: 422, code: "variant_failed" });
    expect(err.message).toMatch(/output 'logits' is not finite/);
    expect((await env.BLOBS.list()).objects.map((o) => o.key)).toEqual(blobs);
    expect((await env.RECORDS.list()).keys.map((k) => k.name)).toEqual(records);
    const model = (await (await api(`/v1/models/${id}`)).json()) as { variants: unknown[] };
    expect(model.variants).toEqual([]);
  });

  it("rejects bytes that are not ONNX with 400 invalid_model", async () => {
    const id = await parent();
    expect(await expectError(await postTrained(id, new Uint8Array([1, 2, 3, 4]), QAT))).toMatchObject({ status: 400, code: "invalid_model" });
  });

  it("rejects a missing, non-JSON or invalid recipe header with 400 invalid_recipe", async () => {
    const id = await parent();
    const bytes = buildMlp([8, 16, 4], 5);
    for (const recipe of [null, "{not json", JSON.stringify({ trained: { bits: 8 } }), JSON.stringify({ quantize: { bits: 8 } })]) {
      expect(await expectError(await postTrained(id, bytes, recipe))).toMatchObject({ status: 400, code: "invalid_recipe" });
    }
  });
});
