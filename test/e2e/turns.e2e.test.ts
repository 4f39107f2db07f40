// A long compression job shares its isolate with every other request on `wrangler dev`: those requests are served
// between the job's pieces of work. A request that waits behind seconds of one synchronous stretch may never be
// answered there (about one in two past 2 s), so one GPTQ job on three wide layers (a weight's rounding was one
// stretch of 3 to 5 s) went with health checks left hanging. Every check sent while the job runs is answered.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const headers = { Authorization: `Bearer ${E2E_TOKENS.turns}` };
/** Layers of 3072 inputs (compensated in three diagonal blocks of 1024) and one of 1024 into 3072 outputs. */
const SIZES = [3072, 1024, 3072, 10];
/** Far beyond any wait between pieces: a check not answered by then was dropped. */
const HANG_MS = 30_000;

async function upload(path: string, bytes: Uint8Array): Promise<string> {
  const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: { ...headers, "Content-Type": "application/octet-stream" }, body: bytes });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

let model: string;
let data: string;

beforeAll(async () => {
  model = await upload("/v1/models", buildMlp(SIZES, 21));
  data = await upload("/v1/datasets", await npz({ input: npy("<f4", [64, SIZES[0]!], uniformFloats(64 * SIZES[0]!, 8)) }));
}, 120_000);

describe("a long GPTQ job and other requests", () => {
  it("answers every health check sent while the job runs, and the job ends with every layer compensated", async () => {
    const quantize = { bits: 4, rounding: "gptq", calibration: { dataset: data } };
    const submitted = await fetch(`${baseUrl}/v1/models/${model}/variants`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify({ quantize }) });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const job = (await submitted.json()) as { id: string };
    const waits: number[] = [];
    const failures: string[] = [];
    let status = "queued";
    let result: { tensors: { compensated?: boolean }[] } | undefined;
    for (let polled = Date.now(); status !== "succeeded" && status !== "failed"; ) {
      const t = Date.now();
      try {
        const health = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(HANG_MS) });
        if (health.status !== 200) failures.push(`health ${health.status}`);
      } catch (err) {
        failures.push(`health not answered in ${HANG_MS} ms (${(err as Error).name})`);
      }
      waits.push(Date.now() - t);
      if (Date.now() - polled > 1000) {
        const read = (await (await fetch(`${baseUrl}/v1/jobs/${job.id}`, { headers })).json()) as { status: string; result?: typeof result };
        status = read.status;
        result = read.result;
        polled = Date.now();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(JSON.stringify({ checks: waits.length, longestWaitMs: Math.max(...waits) }));
    expect(failures).toEqual([]);
    expect(status).toBe("succeeded");
    expect(waits.length).toBeGreaterThan(10);
    expect(result!.tensors.length).toBe(3);
    expect(result!.tensors.every((t) => t.compensated === true)).toBe(true);
  }, 300_000);
});
