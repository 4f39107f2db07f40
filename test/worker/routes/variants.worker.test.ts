import { env } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { REFERENCE_MODELS } from "../../support/reference-models";
import { buildMlp } from "../../support/models";
import { api, expectError, postJson, sha256Hex, uploadModel } from "../../support/api";

async function upload(bytes: Uint8Array): Promise<string> {
  return ((await (await uploadModel(bytes)).json()) as { id: string }).id;
}

describe("POST /v1/models/:id/variants", () => {
  it("makes an int8 variant (201) whose bytes equal the quantizer's output computed in Node", async () => {
    const bytes = REFERENCE_MODELS.mlp.build();
    const id = await upload(bytes);
    const res = await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Record<string, any>;
    expect(v).toMatchObject({
      modelId: id,
      bits: 8,
      recipe: { quantize: { bits: 8, scheme: "weight-only", granularity: "per-channel", symmetric: true } },
      sha256: inject("references").mlp.int8Sha256,
    });
    expect(v.compressionRatio).toBeCloseTo(bytes.byteLength / v.bytes, 6);
    expect(v.compressionRatio).toBeGreaterThan(3.5);
    expect(v.tensors.map((t: { name: string }) => t.name).sort()).toEqual(["fc0.weight", "fc1.weight", "head.weight"]);
    for (const t of v.tensors) {
      expect(t.sqnrDb).toBeGreaterThan(30);
      expect(t.maxAbsError).toBeLessThanOrEqual(t.scaleMax / 2 + 1e-7);
    }
  });

  it("returns the same variant (200) for the same recipe, spelled differently, without recomputing", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const first = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; createdAt: string };
    const again = await postJson(`/v1/models/${id}/variants`, { quantize: { symmetric: true, bits: 8, scheme: "weight-only" } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: first.id, createdAt: first.createdAt });
    const model = (await (await api(`/v1/models/${id}`)).json()) as { variants: { id: string; bits: number }[] };
    expect(model.variants).toMatchObject([{ id: first.id, bits: 8 }]);
  });

  const badRecipes: [string, unknown][] = [
    ["an empty recipe", {}],
    ["an unsupported bit-width", { quantize: { bits: 3 } }],
    ["an unknown key", { quantize: { bits: 8 }, sharpen: true }],
    ["a non-object", [8]],
  ];
  for (const [what, recipe] of badRecipes) {
    it(`rejects ${what} with 400 invalid_recipe`, async () => {
      const id = await upload(buildMlp([8, 16, 4]));
      expect(await expectError(await postJson(`/v1/models/${id}/variants`, recipe))).toMatchObject({ status: 400, code: "invalid_recipe" });
      expect((await env.BLOBS.list()).objects).toHaveLength(1);
    });
  }

  it("rejects a body that is not JSON with a 400", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const res = await api(`/v1/models/${id}/variants`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{bits:" });
    expect((await expectError(res)).status).toBe(400);
  });

  it("answers 404 for another tenant's model and for unknown variants", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string };
    expect(await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } }, "beta"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await expectError(await api(`/v1/models/${id}/variants/${v.id}`, { tenant: "beta" }))).toMatchObject({ status: 404 });
    expect(await expectError(await api(`/v1/models/${id}/variants/ffffffffffffffffffffffff`))).toMatchObject({ status: 404, code: "not_found" });
  });
});

describe("GET /v1/models/:id/variants/:vid[/onnx]", () => {
  it("returns the record and downloads bytes whose hash is the record's sha256", async () => {
    const id = await upload(REFERENCE_MODELS.cnn.build());
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; sha256: string; bytes: number };
    expect(await (await api(`/v1/models/${id}/variants/${v.id}`)).json()).toEqual(v);
    const res = await api(`/v1/models/${id}/variants/${v.id}/onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get("ETag")).toBe(`"${v.sha256}"`);
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBe(v.bytes);
    expect(await sha256Hex(body)).toBe(inject("references").cnn.int8Sha256);
  });

  it("downloads the variant's stored bytes unencoded whatever Accept-Encoding says", async () => {
    const id = await upload(REFERENCE_MODELS.cnn.build());
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; sha256: string; bytes: number };
    const res = await api(`/v1/models/${id}/variants/${v.id}/onnx`, { headers: { "Accept-Encoding": "gzip, br" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect(res.headers.get("Content-Type")).toBe("application/x-protobuf");
    expect(res.headers.get("Content-Length")).toBe(String(v.bytes));
    expect(res.headers.get("ETag")).toBe(`"${v.sha256}"`);
    expect(res.headers.get("Vary")).toBe("Accept-Encoding");
    expect(await sha256Hex(await res.arrayBuffer())).toBe(inject("references").cnn.int8Sha256);
  });
});
