// The typed client against the Worker in workerd when an answer is a transient 503 (an isolate restarted mid-request,
// as `wrangler dev` and the edge answer): content-addressed uploads, variant and job requests (a job's id is its
// request's hash) and GETs are sent again and land once, even when the lost answer's request had reached the Worker;
// a GET whose answer does not come, and an idempotent request whose connection fails before an answer, are sent
// again; a POST that is not idempotent (inference) reports the 503 or the failure rather than repeat itself; a
// lasting 503 ends the retries.
import { SELF, reset } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { RETRIES_ON_503, SlimserveClient, SlimserveError } from "@client/slimserve.js";
import { buildMlp, randomInput } from "@test/support/models";
import { TOKENS } from "@test/support/api";

beforeEach(() => reset());

const restarted = () => new Response("Your worker restarted mid-request.", { status: 503, headers: { "Retry-After": "0" } });

/**
 * A client whose first `failures` requests get `fail`'s answer (or its error) and whose later ones reach the Worker;
 * it counts every request.
 */
function scripted(failures: number, fail: (req: Request) => Promise<Response>) {
  const seen: string[] = [];
  let left = failures;
  const client = new SlimserveClient({
    baseUrl: "https://slimserve.test",
    token: TOKENS.alpha,
    fetch: async (req: Request) => {
      seen.push(`${req.method} ${new URL(req.url).pathname}`);
      return left-- > 0 ? fail(req) : SELF.fetch(req);
    },
  });
  return { client, seen };
}

/** The first `failures` requests answered 503, before reaching the Worker or (`reached`) after the Worker answered them (the answer lost on the way). */
const flaky = (failures: number, reached = false) =>
  scripted(failures, async (req) => {
    if (reached) await (await SELF.fetch(req)).body?.cancel();
    return restarted();
  });

/** The first `failures` requests fail before an answer, as undici reports it ("fetch failed" with `cause`). */
const dropped = (failures: number, cause: Error) =>
  scripted(failures, async () => {
    throw new TypeError("fetch failed", { cause });
  });

describe("the client on a transient 503", () => {
  it("sends a model upload again and stores it once; a GET again too", async () => {
    const bytes = buildMlp([8, 16, 4], 3);
    const { client, seen } = flaky(1);
    const model = await client.uploadModel(bytes, { name: "retried" });
    expect(seen).toEqual(["POST /v1/models", "POST /v1/models"]);
    const again = flaky(2);
    expect((await again.client.listModels()).map((m) => m.id)).toEqual([model.id]);
    expect(again.seen).toEqual(["GET /v1/models", "GET /v1/models", "GET /v1/models"]);
  });

  it("sends a variant request again whose answer was lost after the Worker made the variant: one variant, found again", async () => {
    const { client: setup } = flaky(0);
    const model = await setup.uploadModel(buildMlp([8, 16, 4], 5));
    const { client, seen } = flaky(1, true);
    const answer = await client.compress(model.id, { quantize: { bits: 8 } });
    expect(seen).toHaveLength(2);
    expect(answer.created).toBe(false); // the retry found what the first request made
    const variants = await setup.listVariants(model.id);
    expect(variants).toHaveLength(1);
    expect(answer.variant?.id).toBe(variants[0]!.id);
  });

  it("gives up a GET whose answer does not come (as wrangler dev holds one) and sends it again", async () => {
    const { client: setup } = flaky(0);
    const model = await setup.uploadModel(buildMlp([8, 16, 4], 6));
    const seen: string[] = [];
    let held = 1;
    const client = new SlimserveClient({
      baseUrl: "https://slimserve.test",
      token: TOKENS.alpha,
      headersTimeoutMs: 50,
      fetch: (req: Request) => {
        seen.push(`${req.method} ${new URL(req.url).pathname}`);
        if (held-- > 0) return new Promise<Response>((_, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted"))));
        return SELF.fetch(req);
      },
    });
    expect((await client.listModels()).map((m) => m.id)).toEqual([model.id]);
    expect(seen).toEqual(["GET /v1/models", "GET /v1/models"]);
  });

  it("sends a model upload again whose connection failed before an answer, and stores it once", async () => {
    const bytes = buildMlp([8, 16, 4], 7);
    // As undici reports a connection closed while the body was being written.
    const { client, seen } = dropped(1, new Error("write EPIPE"));
    const model = await client.uploadModel(bytes, { name: "reconnected" });
    expect(seen).toEqual(["POST /v1/models", "POST /v1/models"]);
    expect((await client.listModels()).map((m) => m.id)).toEqual([model.id]);
  });

  it("does not repeat a request whose connection was refused: the error reaches the caller", async () => {
    const { client, seen } = dropped(Infinity, Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8787"), { code: "ECONNREFUSED" }));
    const err = await client.listModels().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(1);
  });

  it("does not repeat an inference whose connection failed: the error reaches the caller", async () => {
    const { client: setup } = flaky(0);
    const model = await setup.uploadModel(buildMlp([8, 16, 4], 8));
    const { client, seen } = dropped(Infinity, new Error("socket hang up"));
    const err = await client.infer(model.id, { input: { type: "float32", dims: [1, 8], data: randomInput(8, 1) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(1);
  });

  it("does not repeat an inference (not idempotent): the 503 reaches the caller", async () => {
    const { client: setup } = flaky(0);
    const model = await setup.uploadModel(buildMlp([8, 16, 4], 4));
    const { client, seen } = flaky(1);
    const err = await client.infer(model.id, { input: { type: "float32", dims: [1, 8], data: randomInput(8, 1) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlimserveError);
    expect((err as SlimserveError).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it(`gives up after ${RETRIES_ON_503} retries of a lasting 503`, async () => {
    const { client, seen } = flaky(RETRIES_ON_503 + 1);
    const err = await client.uploadDataset(new Uint8Array(8), { name: "never" }).catch((e: unknown) => e);
    expect((err as SlimserveError).status).toBe(503);
    expect(seen).toHaveLength(RETRIES_ON_503 + 1);
  });
});
