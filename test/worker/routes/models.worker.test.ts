import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { buildCnn, buildMlp, rng } from "@test/support/models";
import { api, expectError, postJson, sha256Hex, uploadModel } from "@test/support/api";

const io = (name: string) => makeValueInfo(name, DT.FLOAT, ["N", 4]);

async function storedObjects(): Promise<string[]> {
  return (await env.BLOBS.list()).objects.map((o) => o.key);
}

describe("authentication", () => {
  it("answers health without a token", async () => {
    const res = await api("/v1/health", { tenant: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("rejects a request without a bearer token with 401", async () => {
    expect(await expectError(await api("/v1/models", { tenant: null }))).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("rejects an unknown token with 401", async () => {
    const res = await api("/v1/models", { tenant: null, headers: { Authorization: "Bearer nope" } });
    expect(await expectError(res)).toMatchObject({ status: 401, code: "unauthorized", message: "unknown bearer token" });
  });
});

describe("POST /v1/models", () => {
  it("stores a valid model and answers 201 with its record", async () => {
    const bytes = buildMlp([8, 16, 4]);
    const res = await uploadModel(bytes, { name: "tiny-mlp" });
    expect(res.status).toBe(201);
    const model = (await res.json()) as Record<string, unknown>;
    const sha = await sha256Hex(bytes.slice().buffer);
    expect(model).toMatchObject({
      id: sha.slice(0, 24),
      name: "tiny-mlp",
      sha256: sha,
      bytes: bytes.byteLength,
      opset: [{ domain: "ai.onnx", version: 13 }],
      inputs: [{ name: "input", type: "float32", shape: ["N", 8] }],
      outputs: [{ name: "logits", type: "float32", shape: ["N", 4] }],
      parameters: 8 * 16 + 16 + 16 * 4 + 4,
      ops: { Add: 1, Gemm: 1, MatMul: 1, Relu: 1 },
      variants: [],
    });
    expect(Date.parse(model.createdAt as string)).not.toBeNaN();
    expect(await storedObjects()).toEqual([`t/alpha/models/${sha.slice(0, 24)}.onnx`]);
  });

  it("answers 200 with the same record when identical bytes are uploaded again", async () => {
    const bytes = buildCnn();
    const first = (await (await uploadModel(bytes)).json()) as { id: string; createdAt: string };
    const again = await uploadModel(bytes, { name: "renamed" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: first.id, createdAt: first.createdAt });
  });

  const invalid: [string, () => Uint8Array, RegExp][] = [
    ["truncated bytes", () => buildMlp([8, 16, 4]).subarray(0, 300), /./],
    ["random bytes", () => { const r = rng(3); return Uint8Array.from({ length: 2048 }, () => Math.floor(r() * 256)); }, /./],
    ["an empty body", () => new Uint8Array(), /empty body/],
    ["a graph referencing an undefined tensor", () => encodeModel(makeModel(makeGraph([makeNode("Add", ["x", "ghost"], ["y"], "add")], "g", [io("x")], [io("y")]))), /undefined tensor 'ghost'/],
    ["a graph with a cycle", () => encodeModel(makeModel(makeGraph([makeNode("Add", ["x", "b"], ["a"], "add"), makeNode("Relu", ["a"], ["b"], "relu"), makeNode("Identity", ["b"], ["y"], "id")], "g", [io("x")], [io("y")]))), /cycle/],
    ["a model without opset_import", () => { const m = makeModel(makeGraph([makeNode("Relu", ["x"], ["y"], "r")], "g", [io("x")], [io("y")])); m.opsetImport = []; return encodeModel(m); }, /opset_import/],
  ];
  for (const [what, make, message] of invalid) {
    it(`rejects ${what} with 400 invalid_model and stores nothing`, async () => {
      const err = await expectError(await uploadModel(make()));
      expect(err).toMatchObject({ status: 400, code: "invalid_model" });
      expect(err.message).toMatch(message);
      expect(await storedObjects()).toEqual([]);
      expect((await env.RECORDS.list()).keys).toEqual([]);
    });
  }

  it("rejects an upload over the size limit with 413, declared by Content-Length", async () => {
    const err = await expectError(await uploadModel(new Uint8Array(4 * 1024 * 1024 + 1)));
    expect(err).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(await storedObjects()).toEqual([]);
  });

  it("rejects a streamed upload with no Content-Length once it passes the limit", async () => {
    const chunk = new Uint8Array(1024 * 1024);
    // The first bytes begin a model (a doc_string, field 6, of 6 MiB), so that the body is refused for its size alone.
    const first = chunk.slice();
    first.set([0x32, 0x80, 0x80, 0x80, 0x03]);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(sent === 1 ? first : chunk);
        else controller.close();
      },
    });
    const err = await expectError(await uploadModel(body as unknown as Uint8Array));
    expect(err).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(await storedObjects()).toEqual([]);
  });

  it("refuses a streamed body whose first bytes are not a model, storing nothing", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x41);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 3) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const err = await expectError(await uploadModel(body as unknown as Uint8Array));
    expect(err).toMatchObject({ status: 400, code: "invalid_model" });
    expect(err.message).toMatch(/not a decodable ONNX ModelProto/);
    expect(await storedObjects()).toEqual([]);
  });
});

describe("reading, listing and deleting models", () => {
  it("lists only the caller's models; another tenant's id answers 404", async () => {
    const { id } = (await (await uploadModel(buildMlp([8, 16, 4]))).json()) as { id: string };
    const mine = (await (await api("/v1/models")).json()) as { models: { id: string }[] };
    expect(mine.models.map((m) => m.id)).toEqual([id]);
    const theirs = (await (await api("/v1/models", { tenant: "beta" })).json()) as { models: unknown[] };
    expect(theirs.models).toEqual([]);
    expect(await expectError(await api(`/v1/models/${id}`, { tenant: "beta" }))).toMatchObject({ status: 404, code: "not_found" });
    expect(await expectError(await api(`/v1/models/${id}/onnx`, { tenant: "beta" }))).toMatchObject({ status: 404, code: "not_found" });
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    expect(await expectError(await api("/v1/models/0123456789abcdef01234567"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await expectError(await api("/v1/models/not-an-id"))).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("downloads the original bytes with ETag, Content-Length and Content-Disposition", async () => {
    const bytes = buildCnn(9);
    const model = (await (await uploadModel(bytes, { name: "cnn v1" })).json()) as { id: string; sha256: string };
    const res = await api(`/v1/models/${model.id}/onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get("ETag")).toBe(`"${model.sha256}"`);
    expect(res.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expect(res.headers.get("Content-Disposition")).toBe('attachment; filename="cnn_v1.onnx"');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  // Compression is the front line's (Cloudflare, or Miniflare's entry worker under wrangler dev; see the e2e test),
  // for the media type below: the Worker itself answers every request with the stored bytes.
  for (const accept of [null, "identity", "gzip", "br", "gzip, br"]) {
    it(`downloads the stored bytes unencoded as application/x-protobuf for Accept-Encoding ${accept ?? "(none)"}`, async () => {
      const bytes = buildCnn(4);
      const { id } = (await (await uploadModel(bytes)).json()) as { id: string };
      const res = await api(`/v1/models/${id}/onnx`, { headers: accept === null ? {} : { "Accept-Encoding": accept } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Encoding")).toBeNull();
      expect(res.headers.get("Content-Type")).toBe("application/x-protobuf");
      expect(res.headers.get("Content-Length")).toBe(String(bytes.byteLength));
      expect(res.headers.get("ETag")).toBe(`"${await sha256Hex(bytes.slice().buffer)}"`);
      expect(res.headers.get("Vary")).toBe("Accept-Encoding");
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    });
  }

  it("deletes a model with its variants, records and bytes (204)", async () => {
    const { id } = (await (await uploadModel(buildMlp([8, 16, 4]))).json()) as { id: string };
    expect((await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).status).toBe(201);
    expect((await storedObjects()).length).toBe(2);
    const res = await api(`/v1/models/${id}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await storedObjects()).toEqual([]);
    expect((await env.RECORDS.list()).keys).toEqual([]);
    expect((await api(`/v1/models/${id}`)).status).toBe(404);
    expect(await expectError(await api(`/v1/models/${id}`, { method: "DELETE" }))).toMatchObject({ status: 404, code: "not_found" });
  });
});
