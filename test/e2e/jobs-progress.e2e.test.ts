// Jobs on `wrangler dev`: jobs submitted after a long one run to the end while it still runs, rather than waiting
// for it (as they did when a local queue consumer, handed one batch at a time, ran every job).
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const headers = { Authorization: `Bearer ${E2E_TOKENS.queue}` };

interface Job {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed";
  stage: string;
  error?: { code: string; message: string };
}

async function post(path: string, body: BodyInit, contentType: string): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { method: "POST", headers: { ...headers, "Content-Type": contentType }, body });
}

async function upload(path: string, bytes: Uint8Array): Promise<string> {
  const res = await post(path, bytes, "application/octet-stream");
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function submit(modelId: string, body: unknown): Promise<Job> {
  const res = await post(`/v1/models/${modelId}/variants`, JSON.stringify(body), "application/json");
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as Job;
}

async function readJob(id: string): Promise<Job> {
  return (await (await fetch(`${baseUrl}/v1/jobs/${id}`, { headers })).json()) as Job;
}

const ended = (j: Job) => j.status === "succeeded" || j.status === "failed";

/** A dataset of `samples` rows for an MLP with `features` inputs and 4 classes. */
function dataset(samples: number, features: number, seed: number): Promise<Uint8Array> {
  const labels = BigInt64Array.from({ length: samples }, (_, i) => BigInt(i % 4));
  return npz({ input: npy("<f4", [samples, features], uniformFloats(samples * features, seed)), labels: npy("<i8", [samples], labels) });
}

let big: { model: string; data: string };
let small: { model: string; data: string };

beforeAll(async () => {
  big = { model: await upload("/v1/models", buildMlp([256, 1024, 1024, 4], 11)), data: await upload("/v1/datasets", await dataset(6000, 256, 3)) };
  small = { model: await upload("/v1/models", buildMlp([16, 32, 4], 12)), data: await upload("/v1/datasets", await dataset(64, 16, 4)) };
});

describe("queued jobs", () => {
  it("run to the end while a long job submitted before them is still running", async () => {
    const t0 = Date.now();
    const long = await submit(big.model, { quantize: { bits: 8, scheme: "static", calibration: { dataset: big.data, samples: 6000 } }, eval: { dataset: big.data } });
    const short = [];
    for (const bits of [8, 4, 16]) short.push(await submit(small.model, { quantize: { bits }, eval: { dataset: small.data } }));
    const endedAt = new Map<string, number>();
    while (Date.now() - t0 < 120_000 && endedAt.size < 4) {
      for (const j of [long, ...short]) {
        if (endedAt.has(j.id)) continue;
        const now = await readJob(j.id);
        if (ended(now)) {
          expect(now.status, JSON.stringify(now.error)).toBe("succeeded");
          endedAt.set(j.id, Date.now() - t0);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const times = JSON.stringify(Object.fromEntries([long, ...short].map((j, i) => [i === 0 ? "long" : `short${i}`, endedAt.get(j.id)])));
    expect(endedAt.size, `ms to the end: ${times}`).toBe(4);
    for (const j of short) expect(endedAt.get(j.id), `ms to the end: ${times}`).toBeLessThan(endedAt.get(long.id)!);
  });
});
