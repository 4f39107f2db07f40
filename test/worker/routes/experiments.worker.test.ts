import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { variantBlobKey } from "@worker/store/keys";
import { api, expectError, postJson, uploadModel } from "@test/support/api";
import { buildMlp, randomInput } from "@test/support/models";
import { REFERENCE_MODELS } from "@test/support/reference-models";

interface ArmResult {
  variant: string;
  role: string;
  weight: number;
  requests: number;
  served: number;
  errors: number;
  latency: { count: number; p50Ms: number | null; p99Ms: number | null };
  agreement: { compared: number; rows: number; top1Rate: number | null; meanCosine: number | null; maxAbsDiff: number | null } | null;
  accuracy: { labelled: number; correct: number; rate: number | null };
  verdict: { errorRate: string; accuracy: string; agreement: string } | null;
}
interface Experiment {
  name: string;
  status: string;
  winner?: string;
  version: number;
  arms: { variant: string; weight: number }[];
  rollback?: { automatic: boolean; reason: string; rule?: string; arm?: string };
  history: { action: string }[];
  results: ArmResult[];
}
interface Answer {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  arm: string;
  requestId: string;
  experiment: string;
  variant: string | null;
}

const patchJson = (path: string, body: unknown) =>
  api(path, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

async function modelWithVariant(bytes: Uint8Array) {
  const model = ((await (await uploadModel(bytes)).json()) as { id: string }).id;
  const res = await postJson(`/v1/models/${model}/variants`, { quantize: { bits: 8 } });
  expect(res.status).toBe(201);
  return { model, variant: ((await res.json()) as { id: string }).id };
}

async function createExperiment(body: Record<string, unknown>): Promise<Experiment> {
  const res = await postJson("/v1/experiments", body);
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json as Experiment;
}

const readExperiment = async (name: string) => (await (await api(`/v1/experiments/${name}`)).json()) as Experiment;
const arm = (e: Experiment, variant: string) => e.results.find((r) => r.variant === variant)!;

/** Metrics reach the Durable Object after the answers (waitUntil, batched): poll until they have. */
async function waitFor(name: string, done: (e: Experiment) => boolean, timeoutMs = 10_000): Promise<Experiment> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const e = await readExperiment(name);
    if (done(e)) return e;
    if (Date.now() > until) throw new Error(`timed out waiting on ${name}: ${JSON.stringify(e.results)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const mlpBody = (seed: number, rows = 1) => ({ inputs: { input: { type: "float32", dims: [rows, 16], data: randomInput(16 * rows, seed) } } });
const infer = (name: string, body: unknown, headers: Record<string, string> = {}) =>
  api(`/v1/experiments/${name}/infer`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
const argmax = (xs: number[]) => xs.reduce((best, v, i) => (v > xs[best]! ? i : best), 0);

describe("experiments: lifecycle", () => {
  it("creates, reads, patches (weights and ramp), promotes, rolls back and deletes an experiment", async () => {
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4]));
    const created = await createExperiment({ name: "canary", model, arms: [{ variant: "original", weight: 90 }, { variant, weight: 10 }], control: "original" });
    expect(created).toMatchObject({ name: "canary", mode: "split", status: "running", agreementSample: 0.1 });
    expect(created.results.map((r) => [r.variant, r.role, r.requests])).toEqual([["original", "control", 0], [variant, "candidate", 0]]);

    const ramped = (await (await patchJson("/v1/experiments/canary", { ramp: { variant, percent: 25 } })).json()) as Experiment;
    expect(ramped.arms).toEqual([{ variant: "original", weight: 75 }, { variant, weight: 25 }]);
    expect(ramped.version).toBeGreaterThan(created.version);

    const promoted = (await (await api("/v1/experiments/canary/promote", { method: "POST" })).json()) as Experiment;
    expect(promoted).toMatchObject({ status: "promoted", winner: variant, arms: [{ variant: "original", weight: 0 }, { variant, weight: 100 }] });
    for (let i = 0; i < 5; i++) expect(((await (await infer("canary", mlpBody(i))).json()) as Answer).arm).toBe(variant);

    const rolled = (await (await postJson("/v1/experiments/canary/rollback", { reason: "p99 too high on mobile" })).json()) as Experiment;
    expect(rolled).toMatchObject({ status: "rolled_back", winner: "original", rollback: { automatic: false, reason: "p99 too high on mobile" } });
    for (let i = 0; i < 5; i++) expect(((await (await infer("canary", mlpBody(i))).json()) as Answer).arm).toBe("original");
    expect(rolled.history.map((h) => h.action)).toEqual(["created", "patched", "promoted", "rolled_back"]);

    const resumed = (await (await patchJson("/v1/experiments/canary", { weights: { [variant]: 50, original: 50 } })).json()) as Experiment;
    expect(resumed.status).toBe("running");

    const listed = (await (await api("/v1/experiments")).json()) as { experiments: Experiment[] };
    expect(listed.experiments.map((e) => e.name)).toEqual(["canary"]);
    expect((await api("/v1/experiments/canary", { tenant: "beta" })).status).toBe(404);
    expect((await api("/v1/experiments", { tenant: "beta" }).then((r) => r.json())) as unknown).toEqual({ experiments: [] });

    expect((await api("/v1/experiments/canary", { method: "DELETE" })).status).toBe(204);
    expect(await expectError(await api("/v1/experiments/canary"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await expectError(await infer("canary", mlpBody(1)))).toMatchObject({ status: 404, code: "not_found" });
  });

  it("rejects invalid experiments with a 4xx naming the problem", async () => {
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4]));
    const other = await modelWithVariant(buildMlp([16, 32, 4], 5));
    const base = { name: "exp", model, arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }], control: "original" };
    const cases: [string, unknown, number, string, RegExp][] = [
      ["a bad name", { ...base, name: "Has_Caps" }, 400, "invalid_request", /name/],
      ["a negative weight", { ...base, arms: [{ variant: "original", weight: -1 }, { variant, weight: 1 }] }, 400, "invalid_request", /arms\.0\.weight/],
      ["all-zero weights", { ...base, arms: [{ variant: "original", weight: 0 }, { variant, weight: 0 }] }, 400, "invalid_request", /not all be zero/],
      ["a weight of 1e308", { ...base, arms: [{ variant: "original", weight: 1 }, { variant, weight: 1e308 }] }, 400, "invalid_request", /arms\.1\.weight/],
      ["another model's variant", { ...base, arms: [{ variant: "original", weight: 1 }, { variant: other.variant, weight: 1 }] }, 400, "invalid_request", /is not a variant of model/],
      ["a control that is not an arm", { ...base, control: other.variant }, 400, "invalid_request", /control/],
      ["a single arm", { ...base, arms: [{ variant: "original", weight: 1 }] }, 400, "invalid_request", /arms/],
      ["an unknown model", { ...base, model: "0".repeat(24) }, 404, "not_found", /model/],
      ["an unknown field", { ...base, colour: "red" }, 400, "invalid_request", /colour|unrecognized/i],
    ];
    for (const [what, body, status, code, message] of cases) {
      const err = await expectError(await postJson("/v1/experiments", body));
      expect({ what, status: err.status, code: err.code }).toEqual({ what, status, code });
      expect(err.message, what).toMatch(message);
    }
    await createExperiment(base);
    expect(await expectError(await postJson("/v1/experiments", base))).toMatchObject({ status: 409, code: "conflict" });
    expect(await expectError(await patchJson("/v1/experiments/exp", { weights: { [other.variant]: 1 } }))).toMatchObject({ status: 400, code: "invalid_request" });
    expect(await expectError(await patchJson("/v1/experiments/exp", {}))).toMatchObject({ status: 400, code: "invalid_request" });
    const huge = await expectError(await patchJson("/v1/experiments/exp", { weights: { original: 1e308 } }));
    expect(huge).toMatchObject({ status: 400, code: "invalid_request" });
    expect(huge.message).toMatch(/weights\.original: .*1000000/);
    expect(await expectError(await patchJson("/v1/experiments/exp", { ramp: { variant, percent: 101 } }))).toMatchObject({ status: 400 });
    expect(await expectError(await postJson("/v1/experiments/exp/promote", { variant: other.variant }))).toMatchObject({ status: 400 });
    expect(await expectError(await postJson("/v1/experiments/missing/rollback", {}))).toMatchObject({ status: 404 });
    const bad = await expectError(await infer("exp", { inputs: { input: { type: "float32", dims: [1, 3], data: [0, 0, 0] } } }));
    expect(bad).toMatchObject({ status: 400, code: "invalid_input" });
    expect(bad.message).toMatch(/dim 1 must be 16/);
  });
});

describe("experiments: serving", () => {
  it("keeps a user on one arm by the sticky header or the returned arm token", async () => {
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4]));
    await createExperiment({ name: "sticky", model, arms: [{ variant: "original", weight: 50 }, { variant, weight: 50 }], control: "original", sticky: { header: "X-User-Id" }, agreementSample: 0 });
    const seen = new Set<string>();
    for (let u = 0; u < 16; u++) {
      const first = await infer("sticky", mlpBody(u), { "x-user-id": `user-${u}` });
      const a = ((await first.json()) as Answer).arm;
      expect(first.headers.get("x-slimserve-arm")).toBe(a);
      expect(first.headers.get("x-slimserve-request")).toMatch(/^[0-9a-f-]{36}$/);
      expect(first.headers.get("Server-Timing")).toMatch(
        /^cache;desc="(hit|miss)", parse;dur=[\d.]+, validate;dur=[\d.]+, resolve;dur=[\d.]+(, load;dur=[\d.]+)?, run;dur=[\d.]+, serialize;dur=[\d.]+, total;dur=[\d.]+$/,
      );
      seen.add(a);
      for (let again = 0; again < 3; again++) {
        expect(((await (await infer("sticky", mlpBody(100 + again), { "x-user-id": `user-${u}` })).json()) as Answer).arm).toBe(a);
      }
    }
    expect(seen).toEqual(new Set(["original", variant])); // 16 users at 50/50 land on both arms (P(miss) = 2^-15)
    const stale = await infer("sticky", mlpBody(0), { "x-slimserve-arm": "no-such-arm" });
    expect(stale.status).toBe(200);
    expect(["original", variant]).toContain(stale.headers.get("x-slimserve-arm"));
    for (let i = 0; i < 7; i++) {
      const res = await infer("sticky", mlpBody(i), { "x-slimserve-arm": variant });
      expect(((await res.json()) as Answer).arm).toBe(variant);
    }
    await waitFor("sticky", (x) => x.results.reduce((s, r) => s + r.served, 0) === 16 * 4 + 8);
  });

  it("answers with the control in shadow mode and measures the shadow arm's agreement (vs onnxruntime-node)", async () => {
    const ref = inject("references").mlp;
    const { model, variant } = await modelWithVariant(REFERENCE_MODELS.mlp.build());
    await createExperiment({ name: "shadow", model, mode: "shadow", arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }], control: "original" });
    const body = { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } };
    const direct = (await (await postJson(`/v1/models/${model}/infer`, body)).json()) as Answer;
    const N = 6;
    for (let i = 0; i < N; i++) {
      const res = (await (await infer("shadow", body)).json()) as Answer;
      expect(res).toMatchObject({ arm: "original", variant: null, experiment: "shadow" });
      expect(res.outputs).toEqual(direct.outputs);
    }
    const e = await waitFor("shadow", (x) => arm(x, variant).requests === N && arm(x, "original").served === N);
    const control = arm(e, "original");
    const shadow = arm(e, variant);
    expect([control.requests, control.served, shadow.requests, shadow.served, shadow.errors]).toEqual([N, N, N, 0, 0]);
    // Independent reference: onnxruntime-node's fp32 and int8 outputs on the same input.
    const rows = ref.dims[0]!;
    const cols = ref.fp32.length / rows;
    let matches = 0;
    for (let r = 0; r < rows; r++) {
      const row = (xs: number[]) => xs.slice(r * cols, (r + 1) * cols);
      if (argmax(row(ref.fp32)) === argmax(row(ref.int8))) matches++;
    }
    const refMaxDiff = ref.fp32.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.int8[i]!)), 0);
    expect(shadow.agreement!.compared).toBe(N);
    expect(shadow.agreement!.rows).toBe(N * rows);
    expect(shadow.agreement!.top1Rate).toBeCloseTo(matches / rows, 6);
    // The kernel engine also quantizes activations (per row, int8), so its int8 arm differs from the weight-only
    // reference by that error too: within 2% of the output range.
    const range = Math.max(...ref.fp32.map(Math.abs));
    expect(Math.abs(shadow.agreement!.maxAbsDiff! - refMaxDiff)).toBeLessThan(0.02 * range);
    expect(shadow.agreement!.meanCosine).toBeGreaterThan(0.999);
    expect(shadow.latency.count).toBe(N);
  });

  it("counts 100 parallel requests exactly, per arm as the responses name them", async () => {
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4]));
    await createExperiment({ name: "load", model, arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }], control: "original", agreementSample: 0 });
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) => (await (await infer("load", mlpBody(i))).json()) as Answer));
    const byArm = (a: string) => answers.filter((x) => x.arm === a).length;
    expect(new Set(answers.map((a) => a.requestId)).size).toBe(100);
    const total = (x: Experiment) => x.results.reduce((s, r) => s + r.served, 0);
    await waitFor("load", (x) => total(x) >= 100);
    await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
    const e = await readExperiment("load");
    expect(total(e)).toBe(100);
    for (const a of ["original", variant]) {
      expect(arm(e, a).served).toBe(byArm(a));
      expect(arm(e, a).requests).toBe(byArm(a));
      expect(arm(e, a).latency.count).toBe(byArm(a));
      expect(arm(e, a).errors).toBe(0);
    }

    for (const path of ["/metrics", "/v1/metrics"]) {
      const res = await api(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const served = [...text.matchAll(/^slimserve_experiment_served_total\{experiment="load",model="([0-9a-f]+)",variant="([^"]+)",arm="(\w+)"\} (\d+)$/gm)];
      expect(served.map((m) => [m[1], m[2], m[3], Number(m[4])])).toEqual([
        [model, "original", "control", byArm("original")],
        [model, variant, "candidate", byArm(variant)],
      ]);
      expect(text).toMatch(new RegExp(`^slimserve_experiment_latency_seconds_count\\{experiment="load",model="${model}",variant="original",arm="control"\\} ${byArm("original")}$`, "m"));
      expect(text).toMatch(/^slimserve_experiment_latency_seconds_bucket\{[^}]*le="\+Inf"\} \d+$/m);
    }
    expect((await api("/metrics", { tenant: null })).status).toBe(401);
    expect(await (await api("/metrics", { tenant: "beta" })).text()).not.toMatch(/experiment="load"/);
  });

  it("scores feedback labels into per-arm accuracy", async () => {
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4]));
    await createExperiment({ name: "labels", model, arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }], control: "original", agreementSample: 0 });
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push((await (await infer("labels", mlpBody(i))).json()) as Answer);
    await waitFor("labels", (x) => x.results.reduce((s, r) => s + r.served, 0) === 12);
    // Label the first 8 with the arm's own top-1 (correct), the other 4 with a different class (wrong).
    const expected = new Map<string, { labelled: number; correct: number }>();
    for (const [i, a] of answers.entries()) {
      const top1 = argmax(a.outputs.logits!.data);
      const label = i < 8 ? top1 : (top1 + 1) % 4;
      const res = await postJson("/v1/experiments/labels/feedback", { requestId: a.requestId, label });
      expect(res.status).toBe(200);
      const m = expected.get(a.arm) ?? { labelled: 0, correct: 0 };
      expected.set(a.arm, { labelled: m.labelled + 1, correct: m.correct + (i < 8 ? 1 : 0) });
    }
    const e = await readExperiment("labels");
    for (const [a, m] of expected) expect(arm(e, a).accuracy).toMatchObject({ ...m, rate: Number((m.correct / m.labelled).toFixed(6)) });
    expect(await expectError(await postJson("/v1/experiments/labels/feedback", { requestId: answers[0]!.requestId, label: 1 }))).toMatchObject({ status: 409, code: "conflict" });
    expect(await expectError(await postJson("/v1/experiments/labels/feedback", { requestId: "no-such-request", label: 1 }))).toMatchObject({ status: 404, code: "not_found" });
    const two = await expectError(await postJson("/v1/experiments/labels/feedback", { requestId: answers[1]!.requestId, label: [1, 2] }));
    expect(two).toMatchObject({ status: 409 }); // already labelled wins over the shape check
    expect(await expectError(await postJson("/v1/experiments/labels/feedback", { requestId: "x", label: -1 }))).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("rolls back automatically when an arm's error rate exceeds the control's, recording why", async () => {
    // A variant whose bytes are gone fails on every request: the guardrail must take it out of traffic.
    const { model, variant } = await modelWithVariant(buildMlp([16, 32, 4], 77));
    await env.BLOBS.delete(variantBlobKey("alpha", model, variant));
    await createExperiment({
      name: "guarded",
      model,
      arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }],
      control: "original",
      agreementSample: 0,
      guardrails: { minSamples: 5, errorRateMargin: 0.2 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await infer("guarded", mlpBody(i), { "x-slimserve-arm": i % 2 ? variant : "original" })).status);
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThan(0); // "variant bytes are missing"
    const e = await waitFor("guarded", (x) => x.status === "rolled_back");
    expect(e.rollback).toMatchObject({ automatic: true, rule: "error_rate", arm: variant });
    expect(e.rollback!.reason).toMatch(new RegExp(`arm '${variant}' error rate 1 exceeds control's 0 by more than 0.2`));
    expect(e.arms).toEqual([{ variant: "original", weight: 100 }, { variant, weight: 0 }]);
    expect(arm(e, variant).verdict!.errorRate).not.toBe("better");
    // The isolate learns the new version from its next flush; from then on the control answers everyone.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) {
      const res = await infer("guarded", mlpBody(i), { "x-slimserve-arm": variant });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Answer).arm).toBe("original");
    }
    await waitFor("guarded", (x) => x.results.reduce((s, r) => s + r.requests, 0) === 45);
  });

  it("lists the experiment routes in the OpenAPI document", async () => {
    const doc = (await (await api("/openapi.json", { tenant: null })).json()) as { paths: Record<string, unknown> };
    for (const p of ["/v1/experiments", "/v1/experiments/{name}", "/v1/experiments/{name}/infer", "/v1/experiments/{name}/feedback", "/v1/experiments/{name}/promote", "/v1/experiments/{name}/rollback", "/v1/metrics"]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
