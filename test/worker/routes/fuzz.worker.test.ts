// Fuzzing the API in workerd (seeded, a small count; `npm run fuzz` runs the long campaign against a running Worker):
// mutated model and dataset uploads, malformed inference bodies and recipes. Every answer is a 2xx or a 4xx with an
// error body, never a 5xx; a broadcasting graph's oversized output is a 413 naming it, and the session cache counts
// the memory a larger run made the kernel instance grow by as soon as the run ends.
import { toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { isolate } from "@worker/isolate";
import { evictAllSessions } from "@worker/serve/sessions";
import { api, expectError, postJson, uploadModel } from "@test/support/api";
import { modelSeeds, mutatedDataset, mutatedInferBody, mutatedModel, mutatedRecipe, seeded } from "@scripts/fuzz/cases.mjs";

const [mlp, , , , broadcast] = modelSeeds().map((m) => toBinary(ModelProtoSchema, m));

async function upload(bytes: Uint8Array): Promise<string> {
  const res = await uploadModel(bytes);
  expect(res.status).toBeLessThan(300);
  return ((await res.json()) as { id: string }).id;
}

/** A 2xx, or a 4xx whose body names an error code. */
async function expectHandled(res: Response, what: string): Promise<number> {
  if (res.status >= 500) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  if (res.status >= 400) expect((await expectError(res)).code, what).toMatch(/^[a-z_]+$/);
  else await res.arrayBuffer();
  return res.status;
}

describe("API fuzzing", () => {
  it("answers mutated uploads, malformed inference bodies and recipes with 2xx or 4xx, never 5xx", async () => {
    const r = seeded(16);
    const mlpId = await upload(mlp!);
    const seeds = modelSeeds();
    const statuses: Record<number, number> = {};
    const note = (s: number) => (statuses[s] = (statuses[s] ?? 0) + 1);
    for (let i = 0; i < 24; i++) {
      const { kind, bytes } = mutatedModel(r, seeds, { large: false });
      note(await expectHandled(await uploadModel(bytes), `upload ${i} (${kind})`));
    }
    for (let i = 0; i < 12; i++) {
      const { kind, bytes } = await mutatedDataset(r);
      const res = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
      note(await expectHandled(res, `dataset ${i} (${kind})`));
    }
    for (let i = 0; i < 24; i++) {
      const { kind, body, contentType } = mutatedInferBody(r, "x", [1, 8]);
      const res = await api(`/v1/models/${mlpId}/infer`, { method: "POST", headers: { "Content-Type": contentType }, body });
      note(await expectHandled(res, `infer ${i} (${kind})`));
    }
    for (let i = 0; i < 8; i++) {
      const { kind, body } = mutatedRecipe(r);
      const res = await api(`/v1/models/${mlpId}/variants`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
      note(await expectHandled(res, `recipe ${i} (${kind})`));
    }
    expect(Object.keys(statuses).some((s) => Number(s) >= 400)).toBe(true);
    expect((await api("/v1/health", { tenant: null })).status).toBe(200);
  });

  it("answers a broadcast whose output is over the budget with 413 naming the output", async () => {
    const id = await upload(broadcast!);
    const n = 5000; // a [1, 5000] + [5000, 1] output: 25M elements
    const res = await postJson(`/v1/models/${id}/infer`, {
      inputs: { a: { type: "float32", dims: [1, n], data: new Array(n).fill(1) }, b: { type: "float32", dims: [n, 1], data: new Array(n).fill(1) } },
    });
    const err = await expectError(res);
    expect(err.status).toBe(413);
    expect(err.code).toBe("payload_too_large");
    expect(err.message).toMatch(/'y'.*25000000 elements/);
  });

  it("counts a kernel session's growth in the session cache as soon as the run ends", async () => {
    evictAllSessions();
    const id = await upload(broadcast!);
    const infer = (n: number) =>
      postJson(`/v1/models/${id}/infer`, {
        inputs: { a: { type: "float32", dims: [1, n], data: new Array(n).fill(1) }, b: { type: "float32", dims: [n, 1], data: new Array(n).fill(1) } },
      });
    expect((await infer(4)).status).toBe(200);
    const before = isolate.sessions.usedBytes;
    expect((await infer(720)).status).toBe(200); // a 2 MB output (518K elements): the arena grows
    expect(isolate.sessions.usedBytes).toBeGreaterThan(before + 1_900_000);
  });
});
