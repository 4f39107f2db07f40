import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, expectError, postJson, uploadModel, pollJob } from "@test/support/api";
import { buildFixedBatchMlp, buildLstm, buildMlp, buildUncoveredMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";

const SIZES = [16, 32, 32, 4];
const N = 96;

async function uploadDataset(bytes: Uint8Array, tenant: "alpha" | "beta" = "alpha"): Promise<Response> {
  return api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes, tenant });
}

/** Seeded inputs and labels in 0..3 (labels arbitrary: accuracy numbers are checked for consistency, not level). */
async function mlpDataset(seed = 5): Promise<Uint8Array> {
  const x = uniformFloats(N * SIZES[0]!, seed);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4));
  return npz({ input: npy("<f4", [N, SIZES[0]!], x), labels: npy("<i8", [N], y) }, { compress: true });
}

async function setup() {
  const model = (await (await uploadModel(buildMlp(SIZES, 4))).json()) as { id: string; bytes: number };
  const dataset = (await (await uploadDataset(await mlpDataset())).json()) as { id: string };
  return { model, dataset };
}

describe("datasets", () => {
  it("stores an .npz (201), finds it again (200), lists, reads and deletes it", async () => {
    const bytes = await mlpDataset();
    const res = await uploadDataset(bytes);
    expect(res.status).toBe(201);
    const d = (await res.json()) as Record<string, any>;
    expect(d).toMatchObject({ format: "npz", samples: N, hasLabels: true, bytes: bytes.byteLength });
    expect(d.arrays).toEqual([
      { name: "input", dtype: "float32", shape: [N, 16] },
      { name: "labels", dtype: "int64", shape: [N] },
    ]);
    expect((await uploadDataset(bytes)).status).toBe(200);
    expect(((await (await api("/v1/datasets")).json()) as { datasets: unknown[] }).datasets).toHaveLength(1);
    expect((await api(`/v1/datasets/${d.id}`)).status).toBe(200);
    expect((await api(`/v1/datasets/${d.id}`, { tenant: "beta" })).status).toBe(404);
    expect((await api(`/v1/datasets/${d.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/v1/datasets/${d.id}`)).status).toBe(404);
    expect((await env.BLOBS.list()).objects).toHaveLength(0);
  });

  it("rejects a Fortran-order array with 400 invalid_dataset and stores nothing", async () => {
    const err = await expectError(await uploadDataset(npy("<f4", [2, 2], new Float32Array(4), { fortran: true })));
    expect(err).toMatchObject({ status: 400, code: "invalid_dataset" });
    expect(err.message).toMatch(/Fortran/);
    expect((await env.BLOBS.list()).objects).toHaveLength(0);
  });
});

describe("variants with calibration, evaluation and jobs", () => {
  it("makes a static variant in a job (202 + Location), reported by GET /v1/jobs/:id with its eval report", async () => {
    const { model, dataset } = await setup();
    const body = { quantize: { bits: 8, scheme: "static", calibration: { dataset: dataset.id, method: "percentile" } }, eval: { dataset: dataset.id } };
    const res = await postJson(`/v1/models/${model.id}/variants`, body);
    expect(res.status).toBe(202);
    const job = (await res.json()) as Record<string, any>;
    expect(res.headers.get("Location")).toBe(`/v1/jobs/${job.id}`);
    expect(["queued", "running", "succeeded"]).toContain(job.status);
    // An identical request while it runs joins the same job.
    const again = (await (await postJson(`/v1/models/${model.id}/variants`, body)).json()) as { id: string };
    expect(again.id).toBe(job.id);
    expect((await api(`/v1/jobs/${job.id}`, { tenant: "beta" })).status).toBe(404);
    const done = await pollJob(`/v1/jobs/${job.id}`);
    expect(done).toMatchObject({ status: "succeeded", progress: 1 });
    const v = done.result;
    expect(v.recipe.quantize).toMatchObject({ scheme: "static", calibration: { method: "percentile", percentile: 99.999 } });
    expect(v.activations.map((a: { name: string }) => a.name).sort()).toEqual(["fc0.out", "fc1.out", "input"]);
    const e = v.eval;
    expect(e).toMatchObject({ dataset: dataset.id, samples: N, hasLabels: true, fp32Bytes: model.bytes, bytes: v.bytes });
    expect(e.agreement).toBeGreaterThan(0.8);
    expect(e.accuracy.drop).toBeCloseTo(100 * (e.accuracy.fp32 - e.accuracy.variant), 6);
    expect(e.outputs[0]).toMatchObject({ name: "logits" });
    expect(e.outputs[0].cosine).toBeGreaterThan(0.98);
    expect(e.layers.map((l: { node: string }) => l.node)).toEqual(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]);
    for (const l of e.layers) expect(l.sqnrDb).toBeGreaterThan(15);
    // workerd's local clock ticks in whole milliseconds; the windows still resolve a sub-millisecond run.
    expect(e.latencyMs.runs).toBeGreaterThan(0);
    expect(e.latencyMs.variant).toBeGreaterThan(0);
    expect(e.latencyMs.fp32).toBeGreaterThan(0);
    expect(e.residentBytes).toBeGreaterThan(0);
    // The variant is visible with its report, and served.
    const stored = (await (await api(`/v1/models/${model.id}/variants/${v.id}`)).json()) as Record<string, any>;
    expect(stored.eval.dataset).toBe(dataset.id);
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${v.id}`, {
      inputs: { input: { type: "float32", dims: [1, 16], data: Array.from(uniformFloats(16, 9)) } },
    });
    expect(infer.status).toBe(200);
  });

  it("calibrates and evaluates a model whose batch is fixed at 1 (torch's export without dynamic axes), a row at a time", async () => {
    const model = (await (await uploadModel(buildFixedBatchMlp(SIZES, 4))).json()) as { id: string };
    const dataset = (await (await uploadDataset(await mlpDataset())).json()) as { id: string };
    const body = { quantize: { bits: 8, scheme: "static", calibration: { dataset: dataset.id } }, eval: { dataset: dataset.id } };
    const res = await postJson(`/v1/models/${model.id}/variants`, body);
    expect([201, 202]).toContain(res.status);
    const first = (await res.json()) as Record<string, any>;
    const v = res.status === 202 ? (await pollJob(`/v1/jobs/${first.id}`)).result : first;
    expect(v.activations.map((a: { name: string }) => a.name).sort()).toEqual(["fc0.out", "fc1.out", "input"]);
    expect(v.eval).toMatchObject({ samples: N, hasLabels: true });
    expect(v.eval.outputs[0].cosine).toBeGreaterThan(0.98);
    expect(v.eval.layers).toHaveLength(3);
  });

  it("equalizes before quantizing when the recipe says so: calibrated on the equalized model, its own variant id", async () => {
    const { model, dataset } = await setup();
    const recipe = (equalize: boolean) => ({
      quantize: { bits: 8, scheme: "static", granularity: "per-tensor", calibration: { dataset: dataset.id }, ...(equalize ? { equalize } : {}) },
      eval: { dataset: dataset.id },
    });
    const made = async (body: object) => {
      const job = (await (await postJson(`/v1/models/${model.id}/variants`, body)).json()) as { id: string };
      const done = await pollJob(`/v1/jobs/${job.id}`);
      expect(done.status).toBe("succeeded");
      return done.result as Record<string, any>;
    };
    const plain = await made(recipe(false));
    const equalized = await made(recipe(true));
    expect(equalized.recipe.quantize.equalize).toBe(true);
    expect(plain.recipe.quantize.equalize).toBeUndefined();
    expect(equalized.id).not.toBe(plain.id);
    // The same activations are quantized (equalization renames nothing it rescales), with their own ranges.
    expect(equalized.activations.map((a: { name: string }) => a.name).sort()).toEqual(plain.activations.map((a: { name: string }) => a.name).sort());
    expect(equalized.eval.outputs[0].cosine).toBeGreaterThan(0.98);
    // equalize: false is the recipe without it: the same variant.
    const again = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { ...recipe(false), quantize: { ...recipe(false).quantize, equalize: false } })).json()) as { id: string };
    expect(again.id).toBe(plain.id);
  });

  it("answers 201 with the variant when ?wait= sees the job finish, and 200 for the same request later", async () => {
    const { model, dataset } = await setup();
    const body = { quantize: { bits: 8, scheme: "dynamic" }, eval: { dataset: dataset.id } };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, body);
    expect(res.status).toBe(201);
    const v = (await res.json()) as Record<string, any>;
    expect(v.eval.agreement).toBeGreaterThan(0.8);
    expect((await postJson(`/v1/models/${model.id}/variants?wait=25`, body)).status).toBe(200);
  });

  // An LSTM (which only names Y_h: evaluation reads the first output a layer writes) on the kernel engine, and an MLP
  // with Shrink, which the engine does not cover, on onnxruntime-web.
  for (const [name, build, dims, engine] of [
    ["lstm", () => buildLstm(3), [6, 8], "kernels"],
    ["softplus-mlp", () => buildUncoveredMlp([16, 32, 10], 3), [16], "onnxruntime-web"],
  ] as const) {
    it(`names, for the ${name}'s variant and its FP32 original, the engine that serves each: the one inference answers with`, async () => {
      const model = (await (await uploadModel(build())).json()) as { id: string };
      const size = dims.reduce((a: number, b: number) => a * b, 1);
      const x = uniformFloats(N * size, 4);
      const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 10));
      const bytes = await npz({ input: npy("<f4", [N, ...dims], x), labels: npy("<i8", [N], y) }, { compress: true });
      const dataset = (await (await uploadDataset(bytes)).json()) as { id: string };
      const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { bits: 8 }, eval: { dataset: dataset.id } });
      expect(res.status).toBe(201);
      const v = (await res.json()) as { id: string; engine: string; eval: { engine: string; fp32Engine: string } };
      const input = { input: { type: "float32", dims: [1, ...dims], data: Array.from(x.subarray(0, size)) } };
      const served = async (query: string) =>
        ((await (await postJson(`/v1/models/${model.id}/infer${query}`, { inputs: input })).json()) as { engine: string }).engine;
      expect(v.eval.fp32Engine).toBe(await served(""));
      expect(v.eval.engine).toBe(await served(`?variant=${v.id}`));
      expect(v.eval.engine).toBe(v.engine);
      expect([v.eval.fp32Engine, v.eval.engine]).toEqual([engine, engine]);
    });
  }

  it("keeps a plain dynamic recipe synchronous (201) and evaluates it later through POST .../evaluate", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8, scheme: "dynamic" } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as { id: string; eval?: unknown };
    expect(v.eval).toBeUndefined();
    const ev = await postJson(`/v1/models/${model.id}/variants/${v.id}/evaluate?wait=25`, { dataset: dataset.id });
    expect(ev.status).toBe(200);
    expect(((await ev.json()) as { eval: { dataset: string } }).eval.dataset).toBe(dataset.id);
  });

  it("fails the job with the cause and leaves no variant when the dataset does not fit the model", async () => {
    const { model } = await setup();
    const wrong = (await (await uploadDataset(npy("<f4", [8, 5], new Float32Array(40)))).json()) as { id: string };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { bits: 8 }, eval: { dataset: wrong.id } });
    const err = await expectError(res);
    expect(err).toMatchObject({ status: 400, code: "invalid_dataset" });
    expect(err.message).toMatch(/dim 1 must be 16/);
    expect(((await (await api(`/v1/models/${model.id}`)).json()) as { variants: unknown[] }).variants).toHaveLength(0);
  });

  it("rejects a static recipe without calibration, and an unknown dataset with 404", async () => {
    const { model } = await setup();
    expect(await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8, scheme: "static" } }))).toMatchObject({
      status: 400,
      code: "invalid_recipe",
    });
    const missing = { quantize: { bits: 8 }, eval: { dataset: "0".repeat(24) } };
    expect((await postJson(`/v1/models/${model.id}/variants`, missing)).status).toBe(404);
  });
});

describe("sensitivity and search", () => {
  it("ranks every weighted layer by the agreement it costs", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/sensitivity?wait=25`, { dataset: dataset.id, bits: [8], metric: "agreement" });
    expect(res.status).toBe(200);
    const r = (await res.json()) as { metric: string; layers: { node: string; cost: number; bits: number }[] };
    expect(r.metric).toBe("agreement");
    expect(r.layers.map((l) => l.node).sort()).toEqual(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]);
    for (let i = 1; i < r.layers.length; i++) expect(r.layers[i - 1]!.cost).toBeGreaterThanOrEqual(r.layers[i]!.cost);
  });

  it("finds the smallest variant meeting a target and returns the trace; an unreachable target stores nothing", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { target: { minAgreement: 0.8 }, objective: "smallest", dataset: dataset.id });
    expect(res.status).toBe(200);
    const r = (await res.json()) as Record<string, any>;
    expect(r.met).toBe(true);
    expect(r.trace.length).toBeGreaterThanOrEqual(2);
    const smallest = Math.min(...r.trace.filter((t: any) => t.meetsTarget).map((t: any) => t.bytes));
    expect(r.variant.bytes).toBe(smallest);
    expect(r.variant.eval.agreement).toBeGreaterThanOrEqual(0.8);
    // A 16-32-32-4 MLP: protobuf and scale overhead keep int8 near 2x (3.5x+ on larger models).
    expect(r.variant.compressionRatio).toBeGreaterThan(2);

    const none = await postJson(`/v1/models/${model.id}/variants?wait=25`, { target: { minCosine: 1 }, dataset: dataset.id });
    const n = (await none.json()) as Record<string, any>;
    expect(n).toMatchObject({ met: false, variant: null });
    // Mixed precision candidates (the most sensitive layers kept float) were tried after the uniform ones.
    expect(n.trace.some((t: any) => t.recipe.quantize.overrides)).toBe(true);
    // Where int4 on absmax scales missed, clipped scales were tried (the same size), then the asymmetric grid; where
    // nearest rounding missed, GPTQ, and where that missed, GPTQ with bias correction, then both on quantized inputs,
    // and at 4 bits GPTQ on quantized inputs on the asymmetric grid.
    expect(n.trace.filter((t: any) => t.recipe.quantize.scale === "mse").map((t: any) => t.recipe.quantize.bits)).toEqual([4]);
    const asymmetric = (t: any) => t.recipe.quantize.symmetric === false && !t.recipe.quantize.overrides;
    expect(n.trace.filter(asymmetric).map((t: any) => [t.recipe.quantize.bits, t.recipe.quantize.rounding?.inputs ?? "nearest"])).toEqual([
      [4, "nearest"],
      [4, "quantized"],
    ]);
    const compensated = (t: any) => t.recipe.quantize.rounding?.method === "gptq";
    expect(n.trace.some((t: any) => compensated(t) && !t.recipe.quantize.biasCorrection)).toBe(true);
    expect(n.trace.some((t: any) => compensated(t) && t.recipe.quantize.biasCorrection === true)).toBe(true);
    const sequential = (t: any) => t.recipe.quantize.rounding?.inputs === "quantized";
    for (const bits of [4, 2, 1]) {
      const tried = n.trace.filter((t: any) => compensated(t) && t.recipe.quantize.bits === bits && !t.recipe.quantize.overrides);
      expect(tried.map((t: any) => [sequential(t), t.recipe.quantize.biasCorrection ?? false, t.recipe.quantize.symmetric ?? true]), `${bits} bits`).toEqual([
        [false, false, true],
        [false, true, true],
        [true, false, true],
        [true, true, true],
        ...(bits === 4 ? [[true, false, false]] : []),
      ]);
    }
    // At 2 bits, nearest rounding on the ternary grid, compensation on INT2's four levels, calibrated on the first
    // half of this 96-row dataset and judged on the other half.
    const twoBit = n.trace.filter((t: any) => t.recipe.quantize.bits === 2 && !t.recipe.quantize.overrides);
    expect(twoBit.filter((t: any) => !compensated(t)).map((t: any) => t.recipe.quantize.grid ?? "ternary")).toContain("ternary");
    expect(twoBit.filter(compensated).map((t: any) => t.recipe.quantize.grid)).toEqual(["int2", "int2", "int2", "int2"]);
    for (const t of n.trace.filter(compensated)) expect(t.recipe.quantize.calibration.samples).toBe(48);
    // Each entry says which rows its figures come from: a calibrated one the 48 after its calibration rows.
    for (const t of n.trace) expect([t.samples, t.firstSample]).toEqual(t.recipe.quantize.calibration ? [48, 48] : [N, undefined]);
    const variants = ((await (await api(`/v1/models/${model.id}`)).json()) as { variants: unknown[] }).variants;
    expect(variants).toHaveLength(1);
  });

  it("with objective 'fastest', times every candidate and returns one within 5% of the fastest passing latency", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { target: { minAgreement: 0.8 }, objective: "fastest", dataset: dataset.id });
    expect(res.status).toBe(200);
    const r = (await res.json()) as Record<string, any>;
    expect(r.met).toBe(true);
    const passing = r.trace.filter((t: any) => t.meetsTarget);
    // workerd's local clock ticks in whole ms; every candidate still gets a measured (non-null, positive) latency.
    for (const t of r.trace) expect(t.latencyMs).toBeGreaterThan(0);
    const fastest = Math.min(...passing.map((t: any) => t.latencyMs));
    const chosen = passing.find((t: any) => t.bytes === r.variant.bytes);
    expect(chosen.latencyMs).toBeLessThanOrEqual(fastest * 1.05);
  });

  it("rejects maxAccuracyDrop on a dataset without labels", async () => {
    const { model } = await setup();
    const unlabelled = (await (await uploadDataset(npy("<f4", [8, 16], uniformFloats(128, 3)))).json()) as { id: string };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { target: { maxAccuracyDrop: 0.5 }, dataset: unlabelled.id });
    expect(await expectError(res)).toMatchObject({ status: 400, code: "invalid_request" });
  });
});
