// Models saved with ONNX external data, through the API in workerd against local R2 and KV: each file is uploaded in
// parts with the location the model names it by and kept once complete; the graph, in one request or in parts, names
// the files' uploads, and is stored as the model it stands for (the id, bytes and download of the same model saved
// whole), the files consumed. A file missing, incomplete, of the wrong size, or at the model's own name is a 400 that
// names it, and a file survives a refused graph for a corrected one to name. Abort and expiry leave nothing.
import { env } from "cloudflare:test";
import { clearField, clone } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProtoSchema, type ModelProto } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { createUpload, MAX_OPEN_UPLOADS, UPLOAD_TTL_SECONDS } from "@worker/catalog/uploads";
import { encodeModel } from "@worker/onnx/codec";
import { TenantStore } from "@worker/store/tenant";
import { mlpModel } from "@test/support/models";
import { api, expectError, postJson, sha256Hex } from "@test/support/api";

/** Five layers: ten initializers, more files (one per tensor) than uploads may be open at once. */
const MODEL = mlpModel([64, 96, 80, 48, 32, 10], 5);
const WHOLE = encodeModel(MODEL);

interface Upload {
  id: string;
  location?: string;
  completedAt?: string;
  externalData?: string[];
}

/**
 * The model as onnx's writer saves it with external data: every initializer's raw_data moved, in order, into files
 * (`files` names the file each initializer goes to, by index), with location, offset and length entries.
 */
function savedExternal(model: ModelProto, fileOf: (index: number) => string): { graph: Uint8Array; files: Map<string, Uint8Array> } {
  const graph = clone(ModelProtoSchema, model);
  const chunks = new Map<string, Uint8Array[]>();
  const offsets = new Map<string, number>();
  graph.graph!.initializer = graph.graph!.initializer.map((t, i) => {
    const location = fileOf(i);
    const offset = offsets.get(location) ?? 0;
    const out = clone(TensorProtoSchema, t);
    clearField(out, TensorProtoSchema.field.rawData);
    out.externalData = [
      { $typeName: "onnx.StringStringEntryProto", key: "location", value: location },
      { $typeName: "onnx.StringStringEntryProto", key: "offset", value: String(offset) },
      { $typeName: "onnx.StringStringEntryProto", key: "length", value: String(t.rawData.byteLength) },
    ];
    out.dataLocation = 1;
    chunks.set(location, [...(chunks.get(location) ?? []), t.rawData]);
    offsets.set(location, offset + t.rawData.byteLength);
    return out;
  });
  const files = new Map<string, Uint8Array>();
  for (const [location, parts] of chunks) {
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    files.set(location, bytes);
  }
  return { graph: encodeModel(graph), files };
}

/** A file uploaded in one part and completed. */
async function uploadFile(location: string, bytes: Uint8Array, complete = true): Promise<Upload> {
  const planned = await postJson("/v1/uploads", { totalBytes: bytes.byteLength, partBytes: bytes.byteLength, location });
  expect(planned.status, await planned.clone().text()).toBe(201);
  const upload = (await planned.json()) as Upload;
  // Kept normalised, as the model's tensors are matched against it.
  expect(upload.location).toBe(location.replace(/^\.\//, ""));
  const sent = await api(`/v1/uploads/${upload.id}/parts/1`, { method: "PUT", body: bytes });
  expect(sent.status).toBe(200);
  if (!complete) return upload;
  const { etag } = (await sent.json()) as { etag: string };
  const done = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [{ partNumber: 1, etag }] });
  expect(done.status, await done.clone().text()).toBe(200);
  const view = (await done.json()) as Upload;
  expect(view).toMatchObject({ id: upload.id, location: upload.location, completedAt: expect.any(String) });
  return view;
}

function postGraph(graph: Uint8Array, externalData: string[], name?: string): Promise<Response> {
  const q = new URLSearchParams({ externalData: externalData.join(","), ...(name ? { name } : {}) });
  return api(`/v1/models?${q}`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: graph });
}

/** Every key in R2 and KV that is not a model's or a variant's. */
async function leftovers(): Promise<string[]> {
  const blobs = (await env.BLOBS.list()).objects.map((o) => o.key).filter((k) => k.includes("/uploads/"));
  const records = (await env.RECORDS.list()).keys.map((k) => k.name).filter((k) => k.includes(":upload:"));
  return [...blobs, ...records];
}

async function expectStoredWhole(res: Response): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(201);
  const model = (await res.json()) as { id: string; bytes: number; sha256: string };
  const sha = await sha256Hex(WHOLE.buffer as ArrayBuffer);
  expect(model).toMatchObject({ id: sha.slice(0, 24), sha256: sha, bytes: WHOLE.byteLength });
  const download = await api(`/v1/models/${model.id}/onnx`);
  expect(Buffer.from(await download.arrayBuffer()).equals(Buffer.from(WHOLE))).toBe(true);
  expect(await leftovers()).toEqual([]);
}

describe("a model saved with external data", () => {
  it("uploads its file, then its graph in one request naming the file, and is stored as the model saved whole", async () => {
    const saved = savedExternal(MODEL, () => "model.onnx.data");
    expect(saved.graph.byteLength).toBeLessThan(2000);
    const file = await uploadFile("./model.onnx.data", saved.files.get("model.onnx.data")!);
    expect(file.location).toBe("model.onnx.data");
    const got = (await (await api(`/v1/uploads/${file.id}`)).json()) as Upload;
    expect(got.completedAt).toBe(file.completedAt);
    await expectStoredWhole(await postGraph(saved.graph, [file.id], "ext"));
  });

  it("takes one file per tensor (complete files do not count as open uploads), and a graph uploaded in parts that names them", async () => {
    const saved = savedExternal(MODEL, (i) => `weights/t${i}.bin`);
    expect(saved.files.size).toBe(MODEL.graph!.initializer.length);
    expect(saved.files.size).toBeGreaterThan(MAX_OPEN_UPLOADS);
    const ids: string[] = [];
    for (const [location, bytes] of saved.files) ids.push((await uploadFile(location, bytes)).id);
    const planned = await postJson("/v1/uploads", { totalBytes: saved.graph.byteLength, partBytes: saved.graph.byteLength, externalData: ids });
    expect(planned.status).toBe(201);
    const upload = (await planned.json()) as Upload;
    expect(upload.externalData).toEqual(ids);
    const { etag } = (await (await api(`/v1/uploads/${upload.id}/parts/1`, { method: "PUT", body: saved.graph })).json()) as { etag: string };
    await expectStoredWhole(await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [{ partNumber: 1, etag }] }));
  });

  it("refuses a graph whose files are not all uploaded, naming the tensor and the file; the file stays for a corrected graph", async () => {
    const saved = savedExternal(MODEL, (i) => (i === 0 ? "a.bin" : "b.bin"));
    const a = await uploadFile("a.bin", saved.files.get("a.bin")!);
    const alone = await expectError(await api("/v1/models", { method: "POST", body: saved.graph }));
    expect(alone).toMatchObject({ status: 400, code: "invalid_model", message: expect.stringMatching(/external data\): upload each file it names first/) });
    const missing = await expectError(await postGraph(saved.graph, [a.id]));
    expect(missing).toMatchObject({ status: 400, code: "invalid_model", message: expect.stringMatching(/initializer '.+' keeps its data in 'b\.bin', which was not uploaded with the model \(uploaded: 'a\.bin'\)/) });
    const b = await uploadFile("b.bin", saved.files.get("b.bin")!);
    await expectStoredWhole(await postGraph(saved.graph, [a.id, b.id]));
  });

  it("refuses files that are incomplete, unknown, a model, of the wrong size or at the model's own name, naming them", async () => {
    const saved = savedExternal(MODEL, () => "w.bin");
    const bytes = saved.files.get("w.bin")!;
    const open = await uploadFile("w.bin", bytes, false);
    expect(await expectError(await postGraph(saved.graph, [open.id]))).toMatchObject({ status: 400, message: expect.stringMatching(new RegExp(`upload '${open.id}' \\('w\\.bin'\\) is not complete`)) });
    expect(await expectError(await postGraph(saved.graph, ["0".repeat(24)]))).toMatchObject({ status: 400, message: expect.stringMatching(/upload '0{24}' not found/) });
    const model = (await (await postJson("/v1/uploads", { totalBytes: 100, partBytes: 100 })).json()) as Upload;
    expect(await expectError(await postGraph(saved.graph, [model.id]))).toMatchObject({ status: 400, message: expect.stringMatching(/is a model, not a file of external data/) });
    const short = await uploadFile("w.bin", bytes.subarray(0, bytes.byteLength - 4));
    expect(await expectError(await postGraph(saved.graph, [short.id]))).toMatchObject({ status: 400, code: "invalid_model", message: expect.stringMatching(/of 'w\.bin', which holds \d+/) });
    const own = await postJson("/v1/uploads", { totalBytes: 100, partBytes: 100, location: "model.onnx" });
    expect(await expectError(own)).toMatchObject({ status: 400, message: expect.stringMatching(/names the model's own file/) });
    const outside = await postJson("/v1/uploads", { totalBytes: 100, partBytes: 100, location: "../w.bin" });
    expect(await expectError(outside)).toMatchObject({ status: 400, message: expect.stringMatching(/not a path inside the model's directory/) });
    const nul = await postJson("/v1/uploads", { totalBytes: 100, partBytes: 100, location: "w.bin\u0000.txt" });
    expect(await expectError(nul)).toMatchObject({ status: 400, message: expect.stringMatching(/location "w\.bin\\u0000\.txt" is not a path inside/) });
    const both = await postJson("/v1/uploads", { totalBytes: 100, partBytes: 100, location: "x.bin", externalData: [short.id] });
    expect((await expectError(both)).status).toBe(400);
    const badQuery = await api("/v1/models?externalData=nothex", { method: "POST", body: saved.graph });
    expect((await expectError(badQuery)).status).toBe(400);
  });

  it("a complete file takes no more parts; aborting it leaves nothing", async () => {
    const saved = savedExternal(MODEL, () => "w.bin");
    const file = await uploadFile("w.bin", saved.files.get("w.bin")!);
    const again = await api(`/v1/uploads/${file.id}/parts/1`, { method: "PUT", body: saved.files.get("w.bin")! });
    expect(await expectError(again)).toMatchObject({ status: 400, message: expect.stringMatching(/is complete/) });
    const completeAgain = await postJson(`/v1/uploads/${file.id}/complete`, { parts: [{ partNumber: 1, etag: "x" }] });
    expect(completeAgain.status).toBe(200);
    expect(((await completeAgain.json()) as Upload).completedAt).toBe(file.completedAt);
    expect((await api(`/v1/uploads/${file.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await leftovers()).toEqual([]);
  });

  it("a file no model claimed is dropped once its upload has expired, when the tenant next plans an upload", async () => {
    const saved = savedExternal(MODEL, () => "w.bin");
    const file = await uploadFile("w.bin", saved.files.get("w.bin")!);
    const store = new TenantStore(env, "alpha");
    await createUpload(store, { totalBytes: 10, partBytes: 10 }, Date.now());
    expect((await env.BLOBS.list()).objects.map((o) => o.key)).toContain(`t/alpha/uploads/${file.id}`);
    await createUpload(store, { totalBytes: 10, partBytes: 10 }, Date.now() + UPLOAD_TTL_SECONDS * 1000 + 60_000);
    expect((await env.BLOBS.list()).objects.map((o) => o.key)).not.toContain(`t/alpha/uploads/${file.id}`);
  });
});
