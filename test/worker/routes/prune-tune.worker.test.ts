import { describe, expect, it } from "vitest";
import { api, expectError, postJson, uploadModel } from "@test/support/api";
import { buildMlp } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";

const SIZES = [16, 32, 32, 4];
const N = 96;
const LAYERS = ["fc0/MatMul", "fc1/MatMul", "head/Gemm"];

interface Row {
  node: string;
  bits?: number;
  sparsity?: number;
  agreement: number;
  cost: number;
}

async function setup() {
  const model = (await (await uploadModel(buildMlp(SIZES, 4))).json()) as { id: string };
  const x = uniformFloats(N * SIZES[0]!, 5);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4));
  const bytes = await npz({ input: npy("<f4", [N, SIZES[0]!], x), labels: npy("<i8", [N], y) }, { compress: true });
  const res = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
  const dataset = (await res.json()) as { id: string };
  return { model, dataset };
}

describe("pruning sensitivity through POST /v1/models/:id/sensitivity", () => {
  it("prices every weighted layer at every sparsity next to the bit-widths, ranked by cost", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/sensitivity?wait=25`, { dataset: dataset.id, bits: [8], sparsities: [0.9, 0.5], metric: "agreement" });
    expect(res.status).toBe(200);
    const r = (await res.json()) as { layers: Row[] };
    expect(r.layers).toHaveLength(LAYERS.length * 3);
    const pruneRows = r.layers.filter((l) => l.sparsity !== undefined);
    expect(pruneRows.every((l) => l.bits === undefined)).toBe(true);
    expect(pruneRows.map((l) => `${l.node}@${l.sparsity}`).sort()).toEqual(LAYERS.flatMap((n) => [`${n}@0.5`, `${n}@0.9`]).sort());
    expect(r.layers.filter((l) => l.bits === 8).map((l) => l.node).sort()).toEqual(LAYERS);
    for (let i = 1; i < r.layers.length; i++) expect(r.layers[i - 1]!.cost).toBeGreaterThanOrEqual(r.layers[i]!.cost);
    for (const l of r.layers) expect(l.cost).toBeCloseTo((1 - l.agreement) * 100, 9);

    // A row is what that one-layer prune recipe scores when made and evaluated through the variants API.
    const row = pruneRows.find((l) => l.node === "fc1/MatMul" && l.sparsity === 0.9)!;
    const recipe = { prune: { sparsity: 0, scope: "per-layer", overrides: { "fc1.weight": 0.9 }, exclude: ["fc0.weight", "head.weight"] } };
    const made = (await (await postJson(`/v1/models/${model.id}/variants`, recipe)).json()) as { id: string; prune: { layers: { name: string; zeros: number }[] } };
    expect(made.prune.layers).toEqual([expect.objectContaining({ name: "fc1.weight", zeros: Math.round(0.9 * 32 * 32) })]);
    const ev = (await (await postJson(`/v1/models/${model.id}/variants/${made.id}/evaluate?wait=25`, { dataset: dataset.id })).json()) as { eval: { agreement: number } };
    expect(ev.eval.agreement).toBe(row.agreement);
  });

  it("still answers a bits-only request, and a request with neither sweep as bits [8]", async () => {
    const { model, dataset } = await setup();
    const r = (await (await postJson(`/v1/models/${model.id}/sensitivity?wait=25`, { dataset: dataset.id })).json()) as { layers: Row[] };
    expect(r.layers.map((l) => [l.bits, l.sparsity])).toEqual(LAYERS.map(() => [8, undefined]));
  });

  it("rejects bad sweeps with 400 invalid_request", async () => {
    const { model, dataset } = await setup();
    for (const body of [
      { dataset: dataset.id, sparsities: [1.2] },
      { dataset: dataset.id, sparsities: [] },
      { dataset: dataset.id, sparsities: [0.5], structure: { n: 2, m: 4 } },
      { dataset: dataset.id, bits: [8], structure: "channel" },
    ]) {
      expect(await expectError(await postJson(`/v1/models/${model.id}/sensitivity?wait=25`, body))).toMatchObject({ status: 400, code: "invalid_request" });
    }
  });
});

describe("pruning search through POST /v1/models/:id/variants", () => {
  it("allocates per-layer sparsity meeting the target with fewer bytes on the wire than unpruned int8", async () => {
    const { model, dataset } = await setup();
    const int8 = (await (await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8 } })).json()) as { stages: { encoded: { br: number } } };
    const body = { target: { minAgreement: 0.9 }, dataset: dataset.id, prune: { quantize: { bits: 8 }, sparsities: [0.3, 0.6, 0.9] } };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, body);
    expect(res.status).toBe(200);
    const r = (await res.json()) as Record<string, any>;
    expect(r.met).toBe(true);
    // The trace starts from unpruned int8, then climbs one layer step at a time.
    expect(r.trace[0].recipe).toEqual({ quantize: expect.objectContaining({ bits: 8 }) });
    expect(r.trace[0].transferBytes).toBe(int8.stages.encoded.br);
    expect(r.trace.length).toBeGreaterThan(1);
    const v = r.variant;
    expect(v.eval.agreement).toBeGreaterThanOrEqual(0.9);
    expect(v.recipe.prune.overrides).toBeDefined();
    expect(v.recipe.quantize.bits).toBe(8);
    expect(v.stages.encoded.br).toBeLessThan(int8.stages.encoded.br);
    expect(v.stages.encoded.br).toBe(Math.min(...r.trace.filter((t: any) => t.meetsTarget).map((t: any) => t.transferBytes)));
    // Stored, with its evaluation, and served.
    const stored = (await (await api(`/v1/models/${model.id}/variants/${v.id}`)).json()) as { eval: { agreement: number } };
    expect(stored.eval.agreement).toBe(v.eval.agreement);
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${v.id}`, {
      inputs: { input: { type: "float32", dims: [1, 16], data: Array.from(uniformFloats(16, 9)) } },
    });
    expect(infer.status).toBe(200);
  });

  it("stores nothing when even the unpruned start misses the target", async () => {
    const { model, dataset } = await setup();
    const body = { target: { minCosine: 1 }, dataset: dataset.id, prune: { quantize: { bits: 4 } } };
    const r = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, body)).json()) as Record<string, any>;
    expect(r).toMatchObject({ met: false, variant: null });
    expect(r.trace).toHaveLength(1);
    expect(((await (await api(`/v1/models/${model.id}`)).json()) as { variants: unknown[] }).variants).toHaveLength(0);
  });

  it("rejects invalid pruning searches with 400 invalid_recipe", async () => {
    const { model, dataset } = await setup();
    for (const prune of [{ structure: { n: 2, m: 4 } }, { quantize: { bits: 1 } }, { sparsities: [0] }, { method: "magnitude" }]) {
      const res = await postJson(`/v1/models/${model.id}/variants`, { target: { minAgreement: 0.9 }, dataset: dataset.id, prune });
      expect(await expectError(res)).toMatchObject({ status: 400, code: "invalid_recipe" });
    }
    const fastest = { target: { minAgreement: 0.9 }, objective: "fastest", dataset: dataset.id, prune: {} };
    expect(await expectError(await postJson(`/v1/models/${model.id}/variants`, fastest))).toMatchObject({ status: 400, code: "invalid_recipe" });
  });
});
