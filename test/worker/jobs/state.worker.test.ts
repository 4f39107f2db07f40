// A job's Durable Object: its alarm runs a queued job, a runner that dies is replaced when its lease ends, a job
// whose runners keep dying fails instead of starting for ever, and a job with no runner coming gets one when read.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jobId } from "@worker/jobs/jobs";
import type { JobRecord, JobSpec, JobState } from "@worker/jobs/state";
import { RecipeSchema } from "@worker/compress/recipe";
import { uploadModel } from "@test/support/api";
import { buildMlp } from "@test/support/models";

/** A variant job (int8 weight-only) on a freshly uploaded model: its spec and its object's stub. */
async function variantJob(): Promise<{ spec: JobSpec; stub: DurableObjectStub<JobState> }> {
  const model = (await (await uploadModel(buildMlp([8, 16, 4], 3))).json()) as { id: string };
  const request = { modelId: model.id, recipe: RecipeSchema.parse({ quantize: { bits: 8 } }) };
  const id = await jobId("alpha", "variant", request);
  return { spec: { id, tenant: "alpha", kind: "variant", request }, stub: env.JOB_STATE.get(env.JOB_STATE.idFromName(id)) };
}

/** The stored record and alarm, read inside the object without going through read() (which arms a missing alarm). */
function stored(stub: DurableObjectStub<JobState>) {
  return runInDurableObject(stub, async (_o: JobState, state) => ({
    job: (await state.storage.get<JobRecord>("job"))!,
    alarm: await state.storage.getAlarm(),
  }));
}

async function untilEnded(stub: DurableObjectStub<JobState>, ms: number): Promise<JobRecord> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { job } = await stored(stub);
    if (job.status === "succeeded" || job.status === "failed" || Date.now() > deadline) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("JobState", () => {
  it("runs a queued job from the alarm armed when it was opened", async () => {
    const { spec, stub } = await variantJob();
    const alarm = await runInDurableObject(stub, async (o: JobState, state) => {
      await o.open(spec);
      return state.storage.getAlarm();
    });
    expect(alarm).not.toBeNull();
    await runDurableObjectAlarm(stub);
    const job = await untilEnded(stub, 10_000);
    expect(job).toMatchObject({ status: "succeeded", progress: 1, attempts: 1 });
    expect(await stored(stub)).toMatchObject({ alarm: null });
  });

  it("takes over a running job whose runner died, once its lease has ended, with nobody asking", async () => {
    const { spec, stub } = await variantJob();
    // A runner claims the job for 300 ms and is never heard from again.
    const leaseUntil = await runInDurableObject(stub, async (o: JobState) => {
      await o.open(spec);
      const claim = await o.claim(300);
      return claim.granted ? claim.job.leaseUntil : 0;
    });
    const before = await stored(stub);
    expect(before.job.status).toBe("running");
    expect(before.alarm).toBe(leaseUntil);
    const job = await untilEnded(stub, 10_000);
    expect(job).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  it("leaves a job to the runner whose lease is live, and a claim refused meanwhile keeps the takeover alarm", async () => {
    const { spec, stub } = await variantJob();
    const { first, second, alarm } = await runInDurableObject(stub, async (o: JobState, state) => {
      await o.open(spec);
      const first = await o.claim(60_000);
      const second = await o.claim(60_000);
      return { first, second, alarm: await state.storage.getAlarm() };
    });
    expect(first.granted).toBe(true);
    expect(second).toMatchObject({ granted: false, job: { status: "running" } });
    expect(alarm).toBe(first.job!.leaseUntil);
    await runInDurableObject(stub, (o: JobState) => o.finish({ result: { ok: true } }));
    expect(await stored(stub)).toMatchObject({ job: { status: "succeeded", result: { ok: true } }, alarm: null });
  });

  it("fails a job whose runners died five times rather than starting it again", async () => {
    const { spec, stub } = await variantJob();
    const claims = await runInDurableObject(stub, async (o: JobState) => {
      await o.open(spec);
      // Leases of 0 ms: each runner is gone as soon as it claimed.
      const out = [];
      for (let i = 0; i < 6; i++) out.push(await o.claim(0));
      return out;
    });
    expect(claims.map((c) => c.granted)).toEqual([true, true, true, true, true, false]);
    const { job, alarm } = await stored(stub);
    expect(job.status).toBe("failed");
    expect(job.error).toMatchObject({ code: "internal" });
    expect(job.error!.message).toContain("stopped 5 times");
    expect(alarm).toBeNull();
    // Sending the request again queues it afresh.
    expect(await runInDurableObject(stub, (o: JobState) => o.open(spec))).toMatchObject({ status: "queued", attempts: 0 });
  });

  it("arms an alarm when a job that has not ended is read with no runner coming", async () => {
    const { spec, stub } = await variantJob();
    await runInDurableObject(stub, async (o: JobState, state) => {
      await o.open(spec);
      await state.storage.deleteAlarm();
    });
    // Nothing runs it meanwhile: no alarm is left.
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored(stub)).toMatchObject({ job: { status: "queued" }, alarm: null });
    expect(await stub.read()).toMatchObject({ status: "queued" });
    expect(await untilEnded(stub, 10_000)).toMatchObject({ status: "succeeded" });
  });
});
