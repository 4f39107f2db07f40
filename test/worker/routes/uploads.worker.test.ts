// Models uploaded in parts (/v1/uploads) and single bodies streamed (POST /v1/models with no Content-Length), in
// workerd against local R2 and KV: parts arrive in any order and may be sent again; completing joins them into the
// same model, id and bytes that one request would store; an interrupted part is sent again and the upload still
// completes; an aborted or refused upload leaves nothing in R2 or KV. A model over MAX_WHOLE_MODEL_BYTES compresses one
// weight at a time (a job run again over what an interrupted one left) into the variants the in-memory path makes, which
// download and serve, while the FP32 model answers too_large_to_serve. (The tests run with a 4 MiB MAX_UPLOAD_BYTES.)
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema, variantRecipe } from "@worker/compress/recipe";
import { variantId } from "@worker/catalog/variants";
import { MIN_PART_BYTES } from "@worker/catalog/uploads";
import { MAX_WHOLE_MODEL_BYTES } from "@worker/store/tenant";
import { buildMlp, mlpModel, randomInput } from "@test/support/models";
import { makeNode } from "@worker/onnx/builders";
import { api, expectError, postJson, sha256Hex } from "@test/support/api";

/** About 11.5 MB: three 5 MiB parts, the last one shorter. */
const BIG_MODEL = mlpModel([1024, 1024, 1024, 768], 3);
const BIG = encodeModel(BIG_MODEL);

interface Upload {
  id: string;
  parts: number;
  partBytes: number;
  lastPartBytes: number;
  totalBytes: number;
}

async function plan(totalBytes: number, partBytes = MIN_PART_BYTES, name?: string): Promise<Upload> {
  const res = await postJson("/v1/uploads", { totalBytes, partBytes, ...(name ? { name } : {}) });
  expect(res.status).toBe(201);
  return (await res.json()) as Upload;
}

function partOf(bytes: Uint8Array, upload: Upload, n: number): Uint8Array {
  return bytes.subarray((n - 1) * upload.partBytes, Math.min(bytes.byteLength, n * upload.partBytes));
}

async function sendPart(upload: Upload, n: number, body: Uint8Array): Promise<{ partNumber: number; etag: string }> {
  const res = await api(`/v1/uploads/${upload.id}/parts/${n}`, {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream" },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  const part = (await res.json()) as { partNumber: number; etag: string; bytes: number };
  expect(part).toMatchObject({ partNumber: n, bytes: body.byteLength });
  return part;
}

/** Every key in R2 and KV that is not a model's or a variant's: what an upload could leave behind. */
async function leftovers(): Promise<string[]> {
  const blobs = (await env.BLOBS.list()).objects.map((o) => o.key).filter((k) => k.includes("/uploads/"));
  const records = (await env.RECORDS.list()).keys.map((k) => k.name).filter((k) => k.includes(":upload:"));
  return [...blobs, ...records];
}

describe("a model uploaded in parts", () => {
  it("plans parts of partBytes and a shorter last one", async () => {
    const upload = await plan(BIG.byteLength, MIN_PART_BYTES, "encoder");
    expect(upload).toMatchObject({ parts: 3, partBytes: MIN_PART_BYTES, lastPartBytes: BIG.byteLength - 2 * MIN_PART_BYTES, totalBytes: BIG.byteLength });
    expect((await (await api(`/v1/uploads/${upload.id}`)).json()) as Upload).toMatchObject({ id: upload.id, parts: 3 });
  });

  it("joins parts sent in any order, one of them twice, into the model one request would store", async () => {
    const upload = await plan(BIG.byteLength, MIN_PART_BYTES, "encoder");
    const third = await sendPart(upload, 3, partOf(BIG, upload, 3));
    const first = await sendPart(upload, 1, partOf(BIG, upload, 1));
    await sendPart(upload, 2, partOf(BIG, upload, 2));
    const second = await sendPart(upload, 2, partOf(BIG, upload, 2)); // a retry replaces the part
    const res = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [first, second, third] });
    expect(res.status, await res.clone().text()).toBe(201);
    const model = (await res.json()) as { id: string; sha256: string; bytes: number; name: string; parameters: number; ops: Record<string, number> };
    const sha = await sha256Hex(BIG.slice().buffer);
    expect(model).toMatchObject({ id: sha.slice(0, 24), sha256: sha, bytes: BIG.byteLength, name: "encoder" });
    expect(model.parameters).toBe(1024 * 1024 * 2 + 1024 * 768 + 1024 * 2 + 768);
    const ops: Record<string, number> = {};
    for (const n of BIG_MODEL.graph!.node) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
    expect(model.ops).toEqual(ops);
    const download = new Uint8Array(await (await api(`/v1/models/${model.id}/onnx`)).arrayBuffer());
    expect(download.byteLength).toBe(BIG.byteLength);
    expect(await sha256Hex(download.slice().buffer)).toBe(sha);
    expect(await leftovers()).toEqual([]);
    expect((await expectError(await api(`/v1/uploads/${upload.id}`))).status).toBe(404);
  });

  it("answers 200 with the stored model when the same bytes arrive again, and keeps one copy", async () => {
    for (const expected of [201, 200]) {
      const upload = await plan(BIG.byteLength);
      const parts = [];
      for (let n = 1; n <= upload.parts; n++) parts.push(await sendPart(upload, n, partOf(BIG, upload, n)));
      expect((await postJson(`/v1/uploads/${upload.id}/complete`, { parts })).status).toBe(expected);
    }
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
    expect(await leftovers()).toEqual([]);
  });

  it("resumes after an interrupted part: the part is sent again and the upload completes", async () => {
    const upload = await plan(BIG.byteLength);
    const first = await sendPart(upload, 1, partOf(BIG, upload, 1));
    // The client's connection drops halfway through part 2: the stream errors after half its bytes.
    const half = partOf(BIG, upload, 2).subarray(0, MIN_PART_BYTES / 2);
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(half.slice());
        } else controller.error(new Error("connection reset"));
      },
    });
    const interrupted = await api(`/v1/uploads/${upload.id}/parts/2`, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(MIN_PART_BYTES) },
      body: broken,
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      duplex: "half",
    }).catch((err: Error) => err);
    if (interrupted instanceof Response) expect(interrupted.status).toBeGreaterThanOrEqual(400);
    const second = await sendPart(upload, 2, partOf(BIG, upload, 2));
    const third = await sendPart(upload, 3, partOf(BIG, upload, 3));
    const res = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [first, second, third] });
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it("takes a part streamed without a Content-Length (chunked, HTTP/2) at its planned size, and refuses one short of it", async () => {
    const upload = await plan(BIG.byteLength);
    const chunked = (bytes: Uint8Array) => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) return controller.close();
          controller.enqueue(bytes.slice(at, at + 1_000_000));
          at += 1_000_000;
        },
      });
    };
    const put = (n: number, bytes: Uint8Array) =>
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      api(`/v1/uploads/${upload.id}/parts/${n}`, { method: "PUT", body: chunked(bytes), duplex: "half" });
    const short = await put(1, partOf(BIG, upload, 1).subarray(0, 3_000_000));
    expect(await expectError(short)).toMatchObject({ status: 400, message: expect.stringMatching(/part 1 was not stored: it must hold exactly 5242880 bytes/) });
    const parts = [];
    for (let n = 1; n <= upload.parts; n++) {
      const res = await put(n, partOf(BIG, upload, n));
      expect(res.status, await res.clone().text()).toBe(200);
      parts.push((await res.json()) as { partNumber: number; etag: string });
    }
    const done = await postJson(`/v1/uploads/${upload.id}/complete`, { parts });
    expect(done.status, await done.clone().text()).toBe(201);
    expect(((await done.json()) as { id: string }).id).toBe((await sha256Hex(BIG.slice().buffer)).slice(0, 24));
  });

  it("refuses parts of the wrong size or number, and completing with a part missing or a stale etag", async () => {
    const upload = await plan(BIG.byteLength);
    const wrongSize = await api(`/v1/uploads/${upload.id}/parts/1`, { method: "PUT", body: partOf(BIG, upload, 1).subarray(1) });
    expect(await expectError(wrongSize)).toMatchObject({ status: 400, code: "invalid_request", message: expect.stringMatching(/part 1 must hold 5242880 bytes/) });
    const pastEnd = await api(`/v1/uploads/${upload.id}/parts/4`, { method: "PUT", body: new Uint8Array(16) });
    expect(await expectError(pastEnd)).toMatchObject({ status: 400, message: expect.stringMatching(/past the upload's last part \(3\)/) });
    const first = await sendPart(upload, 1, partOf(BIG, upload, 1));
    const missing = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [first] });
    expect(await expectError(missing)).toMatchObject({ status: 400, message: expect.stringMatching(/parts 2, 3 are not named/) });
    const second = await sendPart(upload, 2, partOf(BIG, upload, 2));
    const third = await sendPart(upload, 3, partOf(BIG, upload, 3));
    const stale = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [first, { partNumber: 2, etag: "0".repeat(32) }, third] });
    expect((await expectError(stale)).status).toBe(400);
    // The upload is still open: completing with the right etags works.
    const res = await postJson(`/v1/uploads/${upload.id}/complete`, { parts: [first, second, third] });
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it("refuses a plan R2 cannot carry or the tenant has no room for", async () => {
    const small = await postJson("/v1/uploads", { totalBytes: 20 * 1024 * 1024, partBytes: 1024 * 1024 });
    expect(await expectError(small)).toMatchObject({ status: 400, message: expect.stringMatching(/at least 5242880/) });
    const huge = await postJson("/v1/uploads", { totalBytes: 2 ** 31, partBytes: 100_000_000 });
    expect((await expectError(huge)).status).toBe(400);
    // The tenant's 2 GiB of storage (the default quota) holds one small model already.
    expect((await api("/v1/models", { method: "POST", body: buildMlp([8, 16, 4]) })).status).toBe(201);
    const overQuota = await postJson("/v1/uploads", { totalBytes: 2 ** 31 - 1, partBytes: 100_000_000 });
    expect(await expectError(overQuota)).toMatchObject({ status: 403, code: "quota_exceeded" });
    expect(await leftovers()).toEqual([]);
  });

  it("open uploads count against the tenant's storage at their planned size, and at most 8 may be open", async () => {
    const first = await plan(2 ** 30, 100_000_000); // 1 GiB of the 2 GiB quota, planned
    const usage = (await (await api("/v1/usage")).json()) as { storedBytes: { used: number } };
    expect(usage.storedBytes.used).toBe(2 ** 30);
    const second = await postJson("/v1/uploads", { totalBytes: 2 ** 30 + 1, partBytes: 100_000_000 });
    expect(await expectError(second)).toMatchObject({ status: 403, code: "quota_exceeded" });
    expect((await api(`/v1/uploads/${first.id}`, { method: "DELETE" })).status).toBe(204);
    for (let i = 0; i < 8; i++) await plan(1000 + i, 1000 + i);
    const ninth = await postJson("/v1/uploads", { totalBytes: 2000, partBytes: 2000 });
    expect(await expectError(ninth)).toMatchObject({ status: 403, code: "quota_exceeded", message: expect.stringMatching(/at most 8 uploads/) });
  });

  it("joined bytes that are not a valid model answer 400 and leave nothing behind", async () => {
    const junk = new Uint8Array(BIG.byteLength).fill(0x41);
    const upload = await plan(junk.byteLength);
    const parts = [];
    for (let n = 1; n <= upload.parts; n++) parts.push(await sendPart(upload, n, partOf(junk, upload, n)));
    const err = await expectError(await postJson(`/v1/uploads/${upload.id}/complete`, { parts }));
    expect(err).toMatchObject({ status: 400, code: "invalid_model" });
    expect((await env.BLOBS.list()).objects).toEqual([]);
    expect(await leftovers()).toEqual([]);
    expect((await (await api("/v1/models")).json()) as { models: unknown[] }).toEqual({ models: [] });
  });

  it("an aborted upload leaves nothing in R2 or KV, and its parts cannot be added to", async () => {
    const upload = await plan(BIG.byteLength);
    await sendPart(upload, 1, partOf(BIG, upload, 1));
    const record = (await env.RECORDS.get(`t:alpha:upload:${upload.id}`, "json")) as { multipartId: string };
    expect((await api(`/v1/uploads/${upload.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await leftovers()).toEqual([]);
    expect((await env.BLOBS.list()).objects).toEqual([]);
    expect((await expectError(await api(`/v1/uploads/${upload.id}/parts/2`, { method: "PUT", body: partOf(BIG, upload, 2) }))).status).toBe(404);
    const multipart = env.BLOBS.resumeMultipartUpload(`t/alpha/uploads/${upload.id}`, record.multipartId);
    await expect(multipart.uploadPart(2, partOf(BIG, upload, 2))).rejects.toThrow();
  });

  it("is the tenant's own: another tenant's token cannot see, send to or complete it", async () => {
    const upload = await plan(BIG.byteLength);
    expect((await expectError(await api(`/v1/uploads/${upload.id}`, { tenant: "beta" }))).status).toBe(404);
    const res = await api(`/v1/uploads/${upload.id}/parts/1`, { method: "PUT", body: partOf(BIG, upload, 1), tenant: "beta" });
    expect((await expectError(res)).status).toBe(404);
  });
});

describe("a model over what compression and serving hold at once", () => {
  // Five 2048 x 2048 layers and a head: 84 MB, over 64 MiB, each weight (16.8 MB) within MAX_BOUNDED_WEIGHT_BYTES.
  const SIZES = [2048, 2048, 2048, 2048, 2048, 2048, 10];
  const huge = encodeModel(mlpModel(SIZES, 5));
  const LAYERS = ["fc0.weight", "fc1.weight", "fc2.weight", "fc3.weight", "fc4.weight", "head.weight"];

  /** The MLP's logits by a plain reference (float64 sums over the model's own weights): relu(x W + b) per layer, then the head. */
  function reference(x: Float32Array): Float64Array {
    const inits = new Map(decodeModel(huge).graph!.initializer.map((t) => [t.name, new Float32Array(t.rawData.slice().buffer)]));
    let h: Float64Array = Float64Array.from(x);
    for (let i = 0; i < SIZES.length - 2; i++) {
      const [k, n] = [SIZES[i]!, SIZES[i + 1]!];
      const w = inits.get(`fc${i}.weight`)!;
      const b = inits.get(`fc${i}.bias`)!;
      const next = new Float64Array(n);
      for (let r = 0; r < k; r++) for (let j = 0; j < n; j++) next[j]! += h[r]! * w[r * n + j]!;
      for (let j = 0; j < n; j++) next[j] = Math.max(0, next[j]! + b[j]!);
      h = next;
    }
    const [k, n] = [SIZES[SIZES.length - 2]!, SIZES[SIZES.length - 1]!];
    const wo = inits.get("head.weight")!;
    const bo = inits.get("head.bias")!;
    return Float64Array.from({ length: n }, (_, o) => {
      let sum = bo[o]!;
      for (let j = 0; j < k; j++) sum += h[j]! * wo[o * k + j]!;
      return sum;
    });
  }
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! * a[i]!;
      bb += b[i]! * b[i]!;
    }
    return ab / Math.sqrt(aa * bb);
  };

  /** Each test's storage starts empty: the model is uploaded in 16 MiB parts by each. */
  async function uploadHuge(bytes = huge): Promise<{ id: string; sha256: string; parameters: number }> {
    const upload = await plan(bytes.byteLength, 16 * 1024 * 1024);
    const parts = [];
    for (let n = 1; n <= upload.parts; n++) parts.push(await sendPart(upload, n, partOf(bytes, upload, n)));
    const res = await postJson(`/v1/uploads/${upload.id}/complete`, { parts });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string; sha256: string; parameters: number };
  }

  it("uploads in parts and downloads; serving the FP32 model answers 422 too_large_to_serve", async () => {
    expect(huge.byteLength).toBeGreaterThan(MAX_WHOLE_MODEL_BYTES);
    const model = await uploadHuge();
    expect(model.parameters).toBe(5 * (2048 * 2048 + 2048) + 2048 * 10 + 10);
    const infer = await expectError(await postJson(`/v1/models/${model.id}/infer`, { inputs: { input: { type: "float32", dims: [1, 2048], data: new Array(2048).fill(0) } } }));
    expect(infer).toMatchObject({ status: 422, code: "too_large_to_serve", message: expect.stringMatching(/MAX_WHOLE_MODEL_BYTES.*make a narrower variant/) });
    const download = await api(`/v1/models/${model.id}/onnx`);
    expect(Number(download.headers.get("Content-Length"))).toBe(huge.byteLength);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(await sha256Hex(huge.slice().buffer));
  });

  it("compresses one weight at a time (int8, then int4): variants that download with their SHA-256 and serve within 0.999 / 0.99 of a plain reference", async () => {
    const modelId = (await uploadHuge()).id;
    const x = Float32Array.from(randomInput(2048, 21));
    const want = reference(x);
    for (const [recipe, minCosine, minRatio] of [[{ bits: 8 }, 0.999, 3.9], [{ bits: 4 }, 0.99, 6]] as const) {
      const res = await postJson(`/v1/models/${modelId}/variants?wait=25`, { quantize: recipe });
      expect(res.status, await res.clone().text()).toBe(201);
      const variant = (await res.json()) as Record<string, any>;
      expect(variant.tensors.map((t: { name: string }) => t.name).sort()).toEqual(LAYERS);
      expect(variant.compressionRatio).toBeGreaterThan(minRatio);
      expect(variant.notServed).toBeUndefined();
      const download = await api(`/v1/models/${modelId}/variants/${variant.id}/onnx`);
      const bytes = await download.arrayBuffer();
      expect(bytes.byteLength).toBe(variant.bytes);
      expect(await sha256Hex(bytes)).toBe(variant.sha256);
      const served = await postJson(`/v1/models/${modelId}/infer?variant=${variant.id}`, { inputs: { input: { type: "float32", dims: [1, 2048], data: Array.from(x) } } });
      expect(served.status, await served.clone().text()).toBe(200);
      const logits = ((await served.json()) as { outputs: { logits: { data: number[] } } }).outputs.logits.data;
      expect(cosine(logits, want), JSON.stringify(recipe)).toBeGreaterThanOrEqual(minCosine);
      // The same recipe again finds the stored variant.
      const again = await postJson(`/v1/models/${modelId}/variants?wait=25`, { quantize: recipe });
      expect([again.status, ((await again.json()) as { id: string }).id]).toEqual([200, variant.id]);
    }
    // The FP32 model now names the smallest variant that serves.
    const infer = await expectError(await postJson(`/v1/models/${modelId}/infer`, { inputs: { input: { type: "float32", dims: [1, 2048], data: new Array(2048).fill(0) } } }));
    expect(infer.message).toMatch(/variant '[0-9a-f]{24}' \(4 bits, \d+ bytes\) is the smallest that serves/);
    // Nothing the compression spilled is left in R2.
    expect((await env.BLOBS.list({ prefix: "t/alpha/variants/" })).objects.map((o) => o.key).filter((k) => k.includes("/spill/"))).toEqual([]);
  }, 240_000);

  it("stores a variant that only onnxruntime-web runs to download, not to serve (its weights as float are the FP32 model's size); inference says why", async () => {
    // The same MLP with a Shrink after its head: a graph the kernel engine does not cover.
    const m = mlpModel(SIZES, 5);
    const logits = m.graph!.output[0]!.name;
    m.graph!.node.find((n) => n.output[0] === logits)!.output[0] = `${logits}_linear`;
    m.graph!.node.push(makeNode("Shrink", [`${logits}_linear`], [logits], "shrink"));
    const modelId = (await uploadHuge(encodeModel(m))).id;
    const res = await postJson(`/v1/models/${modelId}/variants?wait=25`, { quantize: { bits: 8 } });
    expect(res.status, await res.clone().text()).toBe(201);
    const variant = (await res.json()) as { id: string; sha256: string; bytes: number; engine: string; notServed?: string };
    expect(variant.bytes).toBeLessThan(MAX_WHOLE_MODEL_BYTES);
    expect(variant.engine).toBe("onnxruntime-web");
    expect(variant.notServed).toMatch(/kernel engine does not cover this graph, and onnxruntime-web holds the variant's weights as float/);
    const infer = await expectError(await postJson(`/v1/models/${modelId}/infer?variant=${variant.id}`, { inputs: { input: { type: "float32", dims: [1, 2048], data: new Array(2048).fill(0) } } }));
    expect(infer).toMatchObject({ status: 422, code: "too_large_to_serve", message: expect.stringMatching(/is not served: the kernel engine does not cover.*make a narrower variant/) });
    const byBits = await expectError(await postJson(`/v1/models/${modelId}/infer?bits=8`, { inputs: { input: { type: "float32", dims: [1, 2048], data: new Array(2048).fill(0) } } }));
    expect(byBits).toMatchObject({ status: 422, code: "too_large_to_serve" });
    const bytes = await (await api(`/v1/models/${modelId}/variants/${variant.id}/onnx`)).arrayBuffer();
    expect([bytes.byteLength, await sha256Hex(bytes)]).toEqual([variant.bytes, variant.sha256]);
  }, 240_000);

  it("a job run again after an interruption makes the same variant over what the first run left in R2, and leaves nothing", async () => {
    const model = await uploadHuge();
    const recipe = RecipeSchema.parse({ quantize: { bits: 8 } });
    const id = await variantId(model.sha256, variantRecipe(recipe, false));
    // What a run killed mid-way leaves: spills (one of them cut short) and no variant.
    await env.BLOBS.put(`t/alpha/variants/${model.id}/spill/${id}/0`, new Uint8Array(1000).fill(7));
    await env.BLOBS.put(`t/alpha/variants/${model.id}/spill/${id}/3`, new Uint8Array(10));
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { bits: 8 } });
    expect(res.status, await res.clone().text()).toBe(201);
    const variant = (await res.json()) as { id: string; sha256: string; bytes: number };
    expect(variant.id).toBe(id);
    const bytes = await (await api(`/v1/models/${model.id}/variants/${id}/onnx`)).arrayBuffer();
    expect([bytes.byteLength, await sha256Hex(bytes)]).toEqual([variant.bytes, variant.sha256]);
    // The variant is the in-memory path's: the same bytes from compressModel over the whole model.
    const whole = compressModel(decodeModel(huge), recipe, undefined, huge.byteLength).bytes;
    expect(await sha256Hex(whole.slice().buffer)).toBe(variant.sha256);
    expect((await env.BLOBS.list({ prefix: `t/alpha/variants/${model.id}/spill/` })).objects).toEqual([]);
  }, 120_000);

  it("refuses at once, with 413 naming why, recipes that need the whole model", async () => {
    const modelId = (await uploadHuge()).id;
    for (const body of [{ prune: { sparsity: 0.5 } }, { quantize: { bits: 8, scheme: "dynamic" } }, { quantize: { bits: 8, equalize: true } }]) {
      const err = await expectError(await postJson(`/v1/models/${modelId}/variants`, body));
      expect(err, JSON.stringify(body)).toMatchObject({ status: 413, code: "payload_too_large", message: expect.stringMatching(/one weight at a time/) });
    }
  });
});

describe("a single body streamed (no Content-Length)", () => {
  function streamed(bytes: Uint8Array): ReadableStream<Uint8Array> {
    let at = 0;
    return new ReadableStream({
      pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(at, at + 300_000));
        at += 300_000;
      },
    });
  }

  it("stores the model, id and summary that the buffered upload of the same bytes gives", async () => {
    const bytes = buildMlp([64, 1500, 300, 10], 4); // 1.9 MB
    const res = await api("/v1/models?name=streamed", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: streamed(bytes),
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      duplex: "half",
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const viaStream = (await res.json()) as Record<string, unknown>;
    expect(viaStream.id).toBe((await sha256Hex(bytes.slice().buffer)).slice(0, 24));
    const buffered = await api(`/v1/models/${viaStream.id as string}`, { method: "DELETE" }).then(() =>
      api("/v1/models?name=streamed", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes }),
    );
    const viaBuffer = (await buffered.json()) as Record<string, unknown>;
    const { createdAt: _a, ...streamedFields } = viaStream;
    const { createdAt: _b, ...bufferedFields } = viaBuffer;
    expect(streamedFields).toEqual(bufferedFields);
    expect(await leftovers()).toEqual([]);
  });

  it("an invalid model streamed answers 400 and leaves nothing", async () => {
    const res = await api("/v1/models", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: streamed(new Uint8Array(700_000).fill(7)),
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      duplex: "half",
    });
    expect((await expectError(res)).status).toBe(400);
    expect((await env.BLOBS.list()).objects).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });
});
