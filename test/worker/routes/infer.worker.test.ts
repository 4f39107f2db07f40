import { createExecutionContext, env, reset } from "cloudflare:test";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { app } from "@worker/index";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { evictAllSessions } from "@worker/serve/sessions";
import { GZIP_JSON_BYTES } from "@worker/serve/server-timing";
import { DT } from "@worker/onnx/dtype";
import { REFERENCE_MODELS, type ReferenceCase } from "@test/support/reference-models";
import { buildMlp, buildNonFiniteMlp, buildUncoveredMlp } from "@test/support/models";
import { SlimserveClient } from "@client/slimserve.js";
import { SELF } from "cloudflare:test";
import { api, expectError, postJson, TOKENS, uploadModel } from "@test/support/api";

// Either engine against onnxruntime-node on the same fp32 graph, and onnxruntime-web on the same int8 graph:
// float rounding only.
const SAME_GRAPH_TOLERANCE = 1e-4;
// The kernel engine on an int8 graph also quantizes activations per row (int8 x int8 GEMM): 2% of the output
// range against the weight-only reference (measured 0.4-1.1%).
const KERNEL_INT8_RELATIVE_TOLERANCE = 0.02;
// The int8 variant against the fp32 original: 3% of the output range (measured 0.2-0.8%).
const INT8_RELATIVE_TOLERANCE = 0.03;

interface Answer {
  outputs: Record<string, { type: string; dims: number[]; data: number[] }>;
  model: string;
  variant: string | null;
  bits: number;
  engine: string;
  timeMs: number;
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

async function setUp(kind: "mlp" | "cnn") {
  const ref: ReferenceCase = inject("references")[kind];
  const id = ((await (await uploadModel(REFERENCE_MODELS[kind].build())).json()) as { id: string }).id;
  const variant = ((await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string }).id;
  const body = { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } };
  return { ref, id, variant, body };
}

/** An original the kernel engine does not cover (Shrink: served by onnxruntime-web) and a body for it. */
async function setUpUncovered() {
  const id = ((await (await uploadModel(buildUncoveredMlp([16, 32, 10], 5))).json()) as { id: string }).id;
  const body = { inputs: { input: { type: "float32", dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.sin(i)) } } };
  return { id, body };
}

describe("POST /v1/models/:id/infer", () => {
  for (const kind of ["mlp", "cnn"] as const) {
    it(`serves the fp32 ${kind} and its int8 variant with outputs matching onnxruntime-node`, async () => {
      const { ref, id, variant, body } = await setUp(kind);
      const fp32 = (await (await postJson(`/v1/models/${id}/infer?bits=32`, body)).json()) as Answer;
      expect(fp32).toMatchObject({ model: id, variant: null, bits: 32 });
      expect(["kernels", "onnxruntime-web"]).toContain(fp32.engine);
      expect(fp32.outputs.logits!.dims).toEqual([ref.dims[0], 10]);
      expect(maxAbsDiff(fp32.outputs.logits!.data, ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);

      for (const query of ["bits=8", `variant=${variant}`]) {
        const res = await postJson(`/v1/models/${id}/infer?${query}`, body);
        expect(res.status).toBe(200);
        const int8 = (await res.json()) as Answer;
        expect(int8).toMatchObject({ variant, bits: 8 });
        expect(int8.timeMs).toBeGreaterThanOrEqual(0);
        const range = Math.max(...ref.fp32.map(Math.abs));
        const sameGraph = int8.engine === "kernels" ? KERNEL_INT8_RELATIVE_TOLERANCE * range : SAME_GRAPH_TOLERANCE;
        expect(maxAbsDiff(int8.outputs.logits!.data, ref.int8)).toBeLessThan(sameGraph);
        expect(maxAbsDiff(int8.outputs.logits!.data, ref.fp32)).toBeLessThan(INT8_RELATIVE_TOLERANCE * range);
      }
    });
  }

  it("answers a warm request without reading R2 or KV (the isolate remembers record, variant and session)", async () => {
    const { id, body } = await setUp("mlp");
    const first = (await (await postJson(`/v1/models/${id}/infer?bits=8`, body)).json()) as Answer;
    // Empty the stores underneath the isolate: a warm request must not notice.
    await reset();
    const res = await postJson(`/v1/models/${id}/infer?bits=8`, body);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Answer).outputs).toEqual(first.outputs);
  });

  it("forgets a deleted model at once: the next request is a 404, not the isolate's remembered copy", async () => {
    const { id, body } = await setUp("mlp");
    expect((await postJson(`/v1/models/${id}/infer?bits=8`, body)).status).toBe(200);
    expect((await api(`/v1/models/${id}`, { method: "DELETE" })).status).toBe(204);
    const err = await expectError(await postJson(`/v1/models/${id}/infer?bits=8`, body));
    expect(err).toMatchObject({ status: 404, code: "not_found" });
  });

  it("serves ?bits=8 from the weight-only 8-bit variant, not a dynamic one made later; both on the kernel engine", async () => {
    const { id, variant, body } = await setUp("mlp");
    const dynamic = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8, scheme: "dynamic" } })).json()) as { id: string; engine: string };
    expect(dynamic.engine).toBe("kernels");
    const answer = (await (await postJson(`/v1/models/${id}/infer?bits=8`, body)).json()) as Answer;
    expect(answer).toMatchObject({ variant, bits: 8, engine: "kernels" });
    // Named by id, the dynamic variant serves, on the kernel engine too.
    expect(((await (await postJson(`/v1/models/${id}/infer?variant=${dynamic.id}`, body)).json()) as Answer)).toMatchObject({ variant: dynamic.id, engine: "kernels" });
  });

  it("answers 404 for ?bits=8 when the model has no 8-bit variant", async () => {
    const id = ((await (await uploadModel(buildMlp([8, 16, 4]))).json()) as { id: string }).id;
    const body = { inputs: { input: { type: "float32", dims: [1, 8], data: new Array(8).fill(0.5) } } };
    const err = await expectError(await postJson(`/v1/models/${id}/infer?bits=8`, body));
    expect(err).toMatchObject({ status: 404, code: "not_found" });
    expect(err.message).toMatch(/no 8-bit variant/);
  });

  const badInputs: [string, unknown, RegExp][] = [
    ["an unknown input name", { inputs: { input: { type: "float32", dims: [1, 8], data: new Array(8).fill(0) }, extra: { type: "float32", dims: [1], data: [0] } } }, /unknown input 'extra'/],
    ["a missing input", { inputs: {} }, /missing input 'input'/],
    ["a wrong dtype", { inputs: { input: { type: "int32", dims: [1, 8], data: new Array(8).fill(0) } } }, /'input' must be float32, got int32/],
    ["a wrong rank", { inputs: { input: { type: "float32", dims: [8], data: new Array(8).fill(0) } } }, /'input' must have rank 2/],
    ["a wrong fixed dim", { inputs: { input: { type: "float32", dims: [1, 9], data: new Array(9).fill(0) } } }, /'input' dim 1 must be 8, got 9/],
    ["a wrong element count", { inputs: { input: { type: "float32", dims: [2, 8], data: new Array(8).fill(0) } } }, /'input' has 8 values but dims \[2, 8\] need 16/],
    ["a null where a number belongs", { inputs: { input: { type: "float32", dims: [1, 8], data: [null, 0, 0, 0, 0, 0, 0, 0] } } }, /inputs\.input\.data\.0/],
    ["a body without inputs", { tensors: {} }, /inputs/],
  ];
  for (const [what, body, message] of badInputs) {
    it(`rejects ${what} with 400 invalid_input naming it`, async () => {
      const id = ((await (await uploadModel(buildMlp([8, 16, 4]))).json()) as { id: string }).id;
      const err = await expectError(await postJson(`/v1/models/${id}/infer`, body));
      expect(err).toMatchObject({ status: 400, code: "invalid_input" });
      expect(err.message).toMatch(message);
    });
  }

  it("requires a symbolic dim to take one value across inputs", async () => {
    // a[N,4] + b[N,4] -> y
    const io = (n: string) => makeValueInfo(n, DT.FLOAT, ["N", 4]);
    const bytes = encodeModel(makeModel(makeGraph([makeNode("Add", ["a", "b"], ["y"], "add")], "g", [io("a"), io("b")], [io("y")])));
    const id = ((await (await uploadModel(bytes)).json()) as { id: string }).id;
    const t = (n: number) => ({ type: "float32", dims: [n, 4], data: new Array(n * 4).fill(1) });
    const ok = (await (await postJson(`/v1/models/${id}/infer`, { inputs: { a: t(2), b: t(2) } })).json()) as Answer;
    expect(ok.outputs.y).toEqual({ type: "float32", dims: [2, 4], data: new Array(8).fill(2) });
    const err = await expectError(await postJson(`/v1/models/${id}/infer`, { inputs: { a: t(2), b: t(3) } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_input" });
    expect(err.message).toMatch(/\('N'\) is 3 but 'a' has N=2/);
  });
});

/** A Server-Timing header's metrics by name, each with its parameters (`dur` in ms, `desc`). */
function serverTiming(res: Response): Map<string, Record<string, string>> {
  const header = res.headers.get("Server-Timing");
  if (header === null) throw new Error("the answer has no Server-Timing header");
  const metrics = new Map<string, Record<string, string>>();
  for (const metric of header.split(",")) {
    const [name, ...params] = metric.trim().split(";");
    metrics.set(name!, Object.fromEntries(params.map((p) => p.split("=")).map(([k, v]) => [k!, v!.replace(/^"|"$/g, "")])));
  }
  return metrics;
}

/** The Worker with SESSION_CACHE_BYTES set to `budget` (a deployment configured with a small session cache). */
async function inferWithBudget(path: string, body: unknown, budget: number): Promise<Response> {
  const request = new Request(`https://slimserve.test${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKENS.alpha}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return app.fetch(request, { ...env, SESSION_CACHE_BYTES: String(budget) }, createExecutionContext());
}

// Far below any session: a kernel instance alone holds more, onnxruntime-web's heap far more.
const TINY_BUDGET = 4096;

describe("the session cache, as Server-Timing reports it", () => {
  // The same seeded models served earlier in this file would otherwise still be cached.
  beforeEach(() => evictAllSessions());

  it("names every phase of the request, and the phases add up to no more than the total", async () => {
    const { id, body } = await setUp("mlp");
    const res = await postJson(`/v1/models/${id}/infer?bits=8`, body);
    expect(res.status).toBe(200);
    const timing = serverTiming(res);
    expect([...timing.keys()]).toEqual(["cache", "parse", "validate", "resolve", "load", "run", "serialize", "total"]);
    const dur = (name: string) => Number(timing.get(name)!.dur);
    const phases = ["parse", "validate", "resolve", "load", "run", "serialize"].map(dur);
    for (const d of phases) expect(d).toBeGreaterThanOrEqual(0);
    // Each phase is rounded to 0.1 ms on its own.
    expect(phases.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(dur("total") + 0.05 * phases.length + 1e-9);
  });

  it("gzips a large JSON answer for a client that accepts gzip, inside the timed total, and sends the same JSON", async () => {
    // 4096 outputs: about 80 KB of JSON, above GZIP_JSON_BYTES.from; one input row keeps the request small.
    const id = ((await (await uploadModel(buildMlp([16, 32, 4096], 11))).json()) as { id: string }).id;
    const body = { inputs: { input: { type: "float32", dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.cos(i)) } } };
    const plain = await postJson(`/v1/models/${id}/infer?bits=32`, body);
    expect(plain.status).toBe(200);
    expect(plain.headers.get("Content-Encoding")).toBeNull();
    expect([...serverTiming(plain).keys()]).not.toContain("compress");
    const plainText = await plain.text();
    expect(plainText.length).toBeGreaterThan(GZIP_JSON_BYTES.from);

    const gz = await api(`/v1/models/${id}/infer?bits=32`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Encoding": "br;q=0.5, gzip" },
      body: JSON.stringify(body),
      // Read the body as it was sent: the runtime would otherwise decode it on the way in.
      encodeResponseBody: "manual",
    } as RequestInit);
    expect(gz.status).toBe(200);
    expect(gz.headers.get("Content-Encoding")).toBe("gzip");
    expect(gz.headers.get("Vary")).toBe("Accept-Encoding");
    const sent = new Uint8Array(await gz.arrayBuffer());
    expect([sent[0], sent[1]]).toEqual([0x1f, 0x8b]);
    expect(sent.length).toBeLessThan(plainText.length * 0.7);
    const text = await new Response(new Blob([sent]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    const answer = JSON.parse(text) as Answer;
    const expected = JSON.parse(plainText) as Answer;
    expect(answer.outputs).toEqual(expected.outputs);
    const timing = serverTiming(gz);
    expect([...timing.keys()]).toEqual(["cache", "parse", "validate", "resolve", "run", "serialize", "compress", "total"]);
    const dur = (name: string) => Number(timing.get(name)!.dur);
    expect(dur("compress")).toBeGreaterThanOrEqual(0);
    const phases = ["parse", "validate", "resolve", "run", "serialize", "compress"].map(dur);
    expect(phases.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(dur("total") + 0.05 * phases.length + 1e-9);

    // A client that refuses gzip (q=0), or a small answer, gets the JSON as written.
    const small = await setUp("mlp");
    for (const [path, request, accept] of [
      [`/v1/models/${id}/infer?bits=32`, body, "gzip;q=0, identity"],
      [`/v1/models/${small.id}/infer?bits=32`, small.body, "gzip"],
    ] as const) {
      const res = await api(path, { method: "POST", headers: { "Content-Type": "application/json", "Accept-Encoding": accept }, body: JSON.stringify(request), encodeResponseBody: "manual" } as RequestInit);
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Encoding")).toBeNull();
      expect([...serverTiming(res).keys()]).not.toContain("compress");
      expect(Object.keys((JSON.parse(await res.text()) as Answer).outputs)).toEqual(["logits"]);
    }
  });

  it("answers ?profile=1 with the kernel engine's per-node timings, and null where onnxruntime-web serves", async () => {
    const mlp = await setUp("mlp");
    const kernels = (await (await postJson(`/v1/models/${mlp.id}/infer?bits=8&profile=1`, mlp.body)).json()) as Answer & { profile: { node: string; op: string; ms: number }[] };
    expect(kernels.engine).toBe("kernels");
    expect(kernels.profile.length).toBeGreaterThan(0);
    for (const p of kernels.profile) {
      expect(typeof p.node).toBe("string");
      expect(["MatMul", "Gemm", "Relu", "Add", "Softmax", "Flatten", "Reshape"]).toContain(p.op);
      expect(p.ms).toBeGreaterThanOrEqual(0);
    }
    const uncovered = await setUpUncovered();
    const web = (await (await postJson(`/v1/models/${uncovered.id}/infer?profile=1`, uncovered.body)).json()) as Answer & { profile: unknown };
    expect(web.engine).toBe("onnxruntime-web");
    expect(web.profile).toBeNull();
    const plain = (await (await postJson(`/v1/models/${mlp.id}/infer?bits=8`, mlp.body)).json()) as Record<string, unknown>;
    expect("profile" in plain).toBe(false);
  });

  it("says cache miss with the load's duration on the first request, and a hit with no load on the next", async () => {
    const { id, body } = await setUp("mlp");
    const first = await postJson(`/v1/models/${id}/infer?bits=8`, body);
    expect(first.status).toBe(200);
    const cold = serverTiming(first);
    expect(cold.get("cache")).toEqual({ desc: "miss" });
    expect(Number(cold.get("load")?.dur)).toBeGreaterThanOrEqual(0);
    expect(Number(cold.get("run")?.dur)).toBeGreaterThanOrEqual(0);
    const warm = serverTiming(await postJson(`/v1/models/${id}/infer?bits=8`, body));
    expect(warm.get("cache")).toEqual({ desc: "hit" });
    expect(warm.has("load")).toBe(false);
    expect(warm.has("run")).toBe(true);
  });

  // The int8 MLP variant runs on the kernel engine; the Shrink MLP on onnxruntime-web.
  for (const [kind, query, engine] of [["mlp", "bits=8", "kernels"], ["uncovered", "bits=32", "onnxruntime-web"]] as const) {
    it(`keeps a session on ${engine} bigger than the whole budget for the next request instead of reloading it`, async () => {
      const { id, body } = kind === "uncovered" ? await setUpUncovered() : await setUp(kind);
      const first = await inferWithBudget(`/v1/models/${id}/infer?${query}`, body, TINY_BUDGET);
      expect(first.status).toBe(200);
      expect(((await first.json()) as Answer).engine).toBe(engine);
      expect(serverTiming(first).has("load")).toBe(true);
      for (let i = 0; i < 3; i++) {
        const again = await inferWithBudget(`/v1/models/${id}/infer?${query}`, body, TINY_BUDGET);
        expect(again.status).toBe(200);
        const timing = serverTiming(again);
        expect(timing.get("cache")).toEqual({ desc: "hit" });
        expect(timing.has("load")).toBe(false);
      }
    });
  }

  it("evicts that session once another model needs the room, so returning to it loads it again", async () => {
    const mlp = await setUp("mlp");
    const cnn = await setUp("cnn");
    const mlpPath = `/v1/models/${mlp.id}/infer?bits=8`;
    expect(serverTiming(await inferWithBudget(mlpPath, mlp.body, TINY_BUDGET)).get("cache")).toEqual({ desc: "miss" });
    expect(serverTiming(await inferWithBudget(`/v1/models/${cnn.id}/infer`, cnn.body, TINY_BUDGET)).get("cache")).toEqual({ desc: "miss" });
    const back = serverTiming(await inferWithBudget(mlpPath, mlp.body, TINY_BUDGET));
    expect(back.get("cache")).toEqual({ desc: "miss" });
    expect(back.has("load")).toBe(true);
  });
});

describe("non-finite outputs", () => {
  // buildNonFiniteMlp divides by zero: a zero input row gives 0/0 (NaN), a nonzero one +/-Infinity.
  const inputs = { input: { type: "float32", dims: [2, 8], data: [...new Array(8).fill(0), 1, 2, 3, 4, 5, 6, 7, 8] } };

  it("answers NaN and +/-Infinity as the strings \"NaN\", \"Infinity\", \"-Infinity\", never null", async () => {
    const { id } = (await (await uploadModel(buildNonFiniteMlp())).json()) as { id: string };
    const res = await postJson(`/v1/models/${id}/infer`, { inputs });
    expect(res.status).toBe(200);
    const data = ((await res.json()) as { outputs: { logits: { data: unknown[] } } }).outputs.logits.data;
    expect(data).toHaveLength(8);
    expect(data.slice(0, 4)).toEqual(["NaN", "NaN", "NaN", "NaN"]);
    for (const v of data.slice(4)) expect(["Infinity", "-Infinity"]).toContain(v);
  });

  it("the client decodes them back to numbers", async () => {
    const { id } = (await (await uploadModel(buildNonFiniteMlp())).json()) as { id: string };
    const client = new SlimserveClient({ baseUrl: "https://slimserve.test", token: TOKENS.alpha, fetch: (req: Request) => SELF.fetch(req) });
    const data = (await client.infer(id, inputs)).outputs.logits!.data as number[];
    expect(data.slice(0, 4).every((v) => Number.isNaN(v))).toBe(true);
    expect(data.slice(4).every((v) => v === Infinity || v === -Infinity)).toBe(true);
  });
});
