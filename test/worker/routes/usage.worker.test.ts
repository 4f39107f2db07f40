// Tenant bounds through the API: each quota answers 403 (429 for running jobs) quota_exceeded naming the limit and
// the usage; GET /v1/usage shows usage against each; requests per token and sign-in attempts are rate limited with
// Retry-After; listings come a page at a time behind an opaque cursor, with one KV read per page.
import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { app } from "@worker/index";
import { isolate } from "@worker/isolate";
import { TenantStore } from "@worker/store/tenant";
import { UsageSchema } from "@worker/routes/usage";
import { TOKENS } from "@test/support/api";
import { buildMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";

type Vars = Record<string, string>;

/** The Worker under a deployment's own [vars] (and, where given, bindings). */
function call(vars: Vars, path: string, init: RequestInit & { tenant?: "alpha" | "beta" } = {}, bindings: object = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${TOKENS[init.tenant ?? "alpha"]}`);
  const request = new Request(`https://slimserve.test${path}`, { ...init, headers });
  return app.fetch(request, { ...env, ...vars, ...bindings }, createExecutionContext()) as Promise<Response>;
}

const upload = (vars: Vars, path: string, bytes: Uint8Array) =>
  call(vars, path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
const post = (vars: Vars, path: string, body: unknown) =>
  call(vars, path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
const error = async (res: Response): Promise<Record<string, unknown> & { status: number }> => ({
  status: res.status,
  ...((await res.json()) as { error: Record<string, unknown> }).error,
});

beforeEach(() => isolate.rateBuckets.clear());

describe("quotas", () => {
  it("refuses a model past MAX_MODELS with 403 quota_exceeded naming the limit and the usage; identical bytes still answer 200", async () => {
    const vars = { MAX_MODELS: "2" };
    expect((await upload(vars, "/v1/models", buildMlp([4, 8, 2], 1))).status).toBe(201);
    expect((await upload(vars, "/v1/models", buildMlp([4, 8, 2], 2))).status).toBe(201);
    const refused = await error(await upload(vars, "/v1/models", buildMlp([4, 8, 2], 3)));
    expect(refused).toMatchObject({ status: 403, code: "quota_exceeded", limit: "models", max: 2, usage: 2 });
    expect(refused.message).toContain("MAX_MODELS");
    expect((await upload(vars, "/v1/models", buildMlp([4, 8, 2], 1))).status).toBe(200);
    expect((await env.BLOBS.list()).objects).toHaveLength(2);
  });

  it("refuses a variant past MAX_VARIANTS_PER_MODEL before compressing, and any upload past MAX_STORED_BYTES", async () => {
    const model = (await (await upload({}, "/v1/models", buildMlp([8, 16, 4], 4))).json()) as { id: string; bytes: number };
    const made = await post({}, `/v1/models/${model.id}/variants`, { quantize: { bits: 8 } });
    expect(made.status).toBe(201);
    const stored = model.bytes + ((await made.json()) as { bytes: number }).bytes;
    const vars = { MAX_VARIANTS_PER_MODEL: "1", MAX_STORED_BYTES: String(stored + 10) };
    expect(await error(await post(vars, `/v1/models/${model.id}/variants`, { quantize: { bits: 4 } }))).toMatchObject({
      status: 403,
      code: "quota_exceeded",
      limit: "variantsPerModel",
      usage: 1,
    });
    const bytes = await npz({ input: npy("<f4", [8, 8], uniformFloats(64, 1)) });
    expect(await error(await upload(vars, "/v1/datasets", bytes))).toMatchObject({ status: 403, code: "quota_exceeded", limit: "storedBytes" });
  });

  it("refuses a dataset past MAX_DATASETS and an experiment past MAX_EXPERIMENTS", async () => {
    const vars = { MAX_DATASETS: "1", MAX_EXPERIMENTS: "1" };
    expect((await upload(vars, "/v1/datasets", await npz({ input: npy("<f4", [2, 8], uniformFloats(16, 1)) }))).status).toBe(201);
    expect(await error(await upload(vars, "/v1/datasets", await npz({ input: npy("<f4", [2, 8], uniformFloats(16, 2)) })))).toMatchObject({
      status: 403,
      limit: "datasets",
      usage: 1,
    });
    const model = (await (await upload({}, "/v1/models", buildMlp([8, 16, 4], 5))).json()) as { id: string };
    const variant = (await (await post({}, `/v1/models/${model.id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string };
    const spec = (name: string) => ({ name, model: model.id, arms: [{ variant: "original", weight: 1 }, { variant: variant.id, weight: 1 }], control: "original" });
    expect((await post(vars, "/v1/experiments", spec("first"))).status).toBe(201);
    expect(await error(await post(vars, "/v1/experiments", spec("second")))).toMatchObject({ status: 403, limit: "experiments", usage: 1 });
  });

  it("answers 429 past MAX_RUNNING_JOBS, a bound that frees itself as jobs end", async () => {
    const model = (await (await upload({}, "/v1/models", buildMlp([16, 32, 32, 4], 6))).json()) as { id: string };
    await new TenantStore(env, "alpha").noteModelJob(model.id, "f".repeat(24)); // a job still running
    const ds = (await (await upload({}, "/v1/datasets", await npz({ input: npy("<f4", [8, 16], uniformFloats(128, 3)) }))).json()) as { id: string };
    const recipe = { quantize: { bits: 8, scheme: "static", calibration: { dataset: ds.id } } };
    expect(await error(await post({ MAX_RUNNING_JOBS: "1" }, `/v1/models/${model.id}/variants`, recipe))).toMatchObject({
      status: 429,
      code: "quota_exceeded",
      limit: "runningJobs",
      max: 1,
      usage: 1,
    });
    expect((await post({ MAX_RUNNING_JOBS: "2" }, `/v1/models/${model.id}/variants`, recipe)).status).toBe(202);
  });
});

describe("GET /v1/usage", () => {
  it("shows usage against each limit, with the limits the deployment set", async () => {
    const model = (await (await upload({}, "/v1/models", buildMlp([8, 16, 4], 7))).json()) as { id: string; bytes: number };
    const variant = (await (await post({}, `/v1/models/${model.id}/variants`, { quantize: { bits: 8 } })).json()) as { bytes: number };
    const dataset = (await (await upload({}, "/v1/datasets", await npz({ input: npy("<f4", [2, 8], uniformFloats(16, 1)) }))).json()) as { bytes: number };
    const res = await call({ MAX_MODELS: "7" }, "/v1/usage");
    expect(res.status).toBe(200);
    const usage = UsageSchema.parse(await res.json());
    expect(usage).toMatchObject({
      models: { used: 1, max: 7 },
      variantsPerModel: { used: 1, max: 50 },
      datasets: { used: 1, max: 50 },
      experiments: { used: 0, max: 20 },
      storedBytes: { used: model.bytes + variant.bytes + dataset.bytes, max: 2 * 1024 ** 3 },
      runningJobs: { used: 0 },
    });
    expect((await call({}, "/v1/usage", { tenant: "beta" }).then((r) => r.json())) as object).toMatchObject({ models: { used: 0 } });
  });
});

describe("rate limiting", () => {
  it("answers 429 rate_limited with Retry-After past RATE_LIMIT_REQUESTS per token, leaving other tenants alone", async () => {
    const vars = { RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_PERIOD_SECONDS: "60" };
    for (let i = 0; i < 3; i++) expect((await call(vars, "/v1/models")).status).toBe(200);
    const limited = await call(vars, "/v1/models");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await error(limited)).toMatchObject({ code: "rate_limited" });
    expect((await call(vars, "/v1/models", { tenant: "beta" })).status).toBe(200);
  });

  it("asks the rate-limiting binding where one is deployed", async () => {
    const keys: string[] = [];
    const RATE_LIMITER = { limit: async ({ key }: { key: string }) => (keys.push(key), { success: false }) };
    const res = await call({ RATE_LIMIT_PERIOD_SECONDS: "10" }, "/v1/models", {}, { RATE_LIMITER });
    expect([res.status, res.headers.get("Retry-After"), keys]).toEqual([429, "10", ["api:alpha"]]);
  });

  it("limits sign-in attempts per client address (POST /login) with 429 and Retry-After", async () => {
    const vars = { LOGIN_ATTEMPTS: "2" };
    const login = (address: string) =>
      app.fetch(
        new Request("https://x/login", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://x", "CF-Connecting-IP": address },
          body: new URLSearchParams({ token: "guess" }).toString(),
        }),
        { ...env, ...vars },
        createExecutionContext(),
      ) as Promise<Response>;
    expect((await login("203.0.113.1")).status).toBe(401);
    expect((await login("203.0.113.1")).status).toBe(401);
    const limited = await login("203.0.113.1");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect((await login("203.0.113.2")).status).toBe(401);
  });
});

describe("listings", () => {
  /** RECORDS that counts its reads: a page must cost one (bulk) read, whatever its size. */
  function countingRecords() {
    const counts = { get: 0 };
    const kv = env.RECORDS;
    const RECORDS = new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") return (...args: unknown[]) => (counts.get++, Reflect.apply(target.get, target, args));
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return { counts, bindings: { RECORDS } };
  }

  it("pages models and datasets behind an opaque cursor, one KV read per page", async () => {
    const ids: string[] = [];
    for (const seed of [1, 2, 3]) ids.push(((await (await upload({}, "/v1/models", buildMlp([4, 8, 2], seed))).json()) as { id: string }).id);
    const { counts, bindings } = countingRecords();
    const first = (await (await call({}, "/v1/models?limit=2", {}, bindings)).json()) as { models: { id: string }[]; cursor?: string };
    expect(first.models).toHaveLength(2);
    expect(typeof first.cursor).toBe("string");
    // The records are read in bulk: one read for the page (the auth and rate limit read none).
    expect(counts.get).toBe(1);
    const second = (await (await call({}, `/v1/models?limit=2&cursor=${encodeURIComponent(first.cursor!)}`, {}, bindings)).json()) as {
      models: { id: string }[];
      cursor?: string;
    };
    expect(second.cursor).toBeUndefined();
    expect([...first.models, ...second.models].map((m) => m.id).sort()).toEqual(ids.sort());
    // Without ?limit= a page holds up to 100: today's clients see all three and no cursor.
    const all = (await (await call({}, "/v1/models")).json()) as { models: unknown[]; cursor?: string };
    expect([all.models.length, all.cursor]).toEqual([3, undefined]);
    for (const seed of [1, 2]) await upload({}, "/v1/datasets", await npz({ input: npy("<f4", [2, 8], uniformFloats(16, seed)) }));
    const datasets = (await (await call({}, "/v1/datasets?limit=1")).json()) as { datasets: unknown[]; cursor?: string };
    expect(datasets.datasets).toHaveLength(1);
    const rest = (await (await call({}, `/v1/datasets?cursor=${encodeURIComponent(datasets.cursor!)}`)).json()) as { datasets: unknown[]; cursor?: string };
    expect([rest.datasets.length, rest.cursor]).toEqual([1, undefined]);
  });

  it("pages a model's variants from the records' metadata, reading no record", async () => {
    const model = (await (await upload({}, "/v1/models", buildMlp([8, 16, 4], 8))).json()) as { id: string };
    for (const bits of [8, 4]) expect((await post({}, `/v1/models/${model.id}/variants`, { quantize: { bits } })).status).toBe(201);
    const { counts, bindings } = countingRecords();
    const first = (await (await call({}, `/v1/models/${model.id}/variants?limit=1`, {}, bindings)).json()) as { variants: { bits: number }[]; cursor: string };
    expect(first.variants).toHaveLength(1);
    expect(counts.get).toBe(1); // the model's record (404 for an unknown model), none per variant
    const rest = (await (await call({}, `/v1/models/${model.id}/variants?cursor=${encodeURIComponent(first.cursor)}`)).json()) as { variants: { bits: number }[]; cursor?: string };
    expect([...first.variants, ...rest.variants].map((v) => v.bits).sort()).toEqual([4, 8]);
    expect(rest.cursor).toBeUndefined();
  });

  it("refuses a limit outside 1..100 with 400", async () => {
    expect((await call({}, "/v1/models?limit=0")).status).toBe(400);
    expect((await call({}, "/v1/experiments?limit=101")).status).toBe(400);
  });
});
