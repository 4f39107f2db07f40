// Deleting a model cancels the jobs working on it: a queued one never runs, a running one stops at its next report,
// and neither leaves a variant (record or bytes) of the deleted model behind.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jobId, jobStub, runJob, type JobLease } from "@worker/jobs/jobs";
import type { JobRecord, JobState } from "@worker/jobs/state";
import { RecipeSchema } from "@worker/compress/recipe";
import { TenantStore } from "@worker/store/tenant";
import { api, uploadModel } from "@test/support/api";
import { buildMlp } from "@test/support/models";

/** A variant job on a fresh model, noted against it as submitJob notes it, queued with no runner coming yet. */
async function queuedVariantJob(): Promise<{ modelId: string; id: string; stub: DurableObjectStub<JobState> }> {
  const model = (await (await uploadModel(buildMlp([8, 16, 4], 3))).json()) as { id: string };
  const request = { modelId: model.id, recipe: RecipeSchema.parse({ quantize: { bits: 8 } }) };
  const id = await jobId("alpha", "variant", request);
  await new TenantStore(env, "alpha").noteModelJob(model.id, id);
  const stub = env.JOB_STATE.get(env.JOB_STATE.idFromName(id));
  // Opened and its alarm taken away in one step inside the object, so that nothing runs it before the test does.
  await runInDurableObject(stub, async (o: JobState, state) => {
    await o.open({ id, tenant: "alpha", kind: "variant", request });
    await state.storage.deleteAlarm();
  });
  return { modelId: model.id, id, stub };
}

const storedJob = (stub: DurableObjectStub<JobState>) =>
  runInDurableObject(stub, async (_o: JobState, state) => ({ job: (await state.storage.get<JobRecord>("job"))!, alarm: await state.storage.getAlarm() }));

async function variantsLeft(modelId: string) {
  return {
    records: (await env.RECORDS.list({ prefix: `t:alpha:variant:${modelId}:` })).keys.length,
    bytes: (await env.BLOBS.list({ prefix: `t/alpha/variants/${modelId}/` })).objects.length,
  };
}

describe("deleting a model during a job", () => {
  it("cancels a queued job: it fails with not_found naming the model, has no runner left, and never runs", async () => {
    const { modelId, id, stub } = await queuedVariantJob();
    expect((await api(`/v1/models/${modelId}`, { method: "DELETE" })).status).toBe(204);
    const { job, alarm } = await storedJob(stub);
    expect(job).toMatchObject({ status: "failed", error: { code: "not_found" } });
    expect(job.error!.message).toContain(`model '${modelId}' was deleted`);
    expect(alarm).toBeNull();
    expect(await runJob(env, id)).toBe("done"); // a runner arriving late finds nothing to do
    expect(await variantsLeft(modelId)).toEqual({ records: 0, bytes: 0 });
    const read = await api(`/v1/jobs/${id}`);
    expect(await read.json()).toMatchObject({ status: "failed", error: { code: "not_found" } });
  });

  it("stops a running job at its next report: it writes no variant, and its own finish does not undo the cancellation", async () => {
    const { modelId, id } = await queuedVariantJob();
    const stub = jobStub(env, id);
    const stages: string[] = [];
    // The runner's lease: the model is deleted while the job is running, at its first progress report.
    const lease: JobLease = {
      claim: (ms) => stub.claim(ms),
      async report(stage, progress, ms) {
        stages.push(stage);
        if (stages.length === 1) expect((await api(`/v1/models/${modelId}`, { method: "DELETE" })).status).toBe(204);
        return stub.report(stage, progress, ms);
      },
      finish: (outcome) => stub.finish(outcome),
    };
    expect(await runJob(env, id, lease)).toBe("done");
    expect(stages).toHaveLength(1); // no stage after the cancellation was seen
    const job = (await stub.read())!;
    expect(job).toMatchObject({ status: "failed", error: { code: "not_found" } });
    expect(job.error!.message).toContain("was deleted");
    expect(await variantsLeft(modelId)).toEqual({ records: 0, bytes: 0 });
  });

  it("answers 404 for a model that is not there, cancelling nothing", async () => {
    const res = await api(`/v1/models/${"0".repeat(24)}`, { method: "DELETE" });
    expect(res.status).toBe(404);
  });
});
