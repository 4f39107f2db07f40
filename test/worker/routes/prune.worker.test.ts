import { env } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { REFERENCE_MODELS } from "../../support/reference-models";
import { buildMlp } from "../../support/models";
import { expectError, postJson, uploadModel } from "../../support/api";

async function upload(bytes: Uint8Array): Promise<string> {
  return ((await (await uploadModel(bytes)).json()) as { id: string }).id;
}

interface Variant {
  id: string;
  sha256: string;
  bits: number;
  bytes: number;
  prune: { sparsity: number; layers: { name: string; sparsity: number; channels?: { after: number } }[]; skipped: unknown[]; sparseTensors: { name: string }[] };
  stages: { denseFp32: number; pruned: number | null; quantized: number | null; stored: number; encoded: { gzip: number; br: number } };
}

interface Answer {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  variant: string | null;
}

describe("prune recipes through POST /v1/models/:id/variants", () => {
  it("makes a 90% unstructured variant stored with sparse initializers, reports it, and serves it", async () => {
    const ref = inject("references").mlp;
    const id = await upload(REFERENCE_MODELS.mlp.build());
    const res = await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.9 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Variant;
    expect(v.bits).toBe(32);
    expect(Math.abs(v.prune.sparsity - 0.9)).toBeLessThan(1e-5);
    expect(v.prune.layers.map((l) => l.name)).toEqual(["fc0.weight", "fc1.weight", "head.weight"]);
    expect(v.prune.sparseTensors.map((t) => t.name)).toContain("fc0.weight");
    expect(v.stages.denseFp32).toBe(REFERENCE_MODELS.mlp.build().byteLength);
    expect(v.stages.quantized).toBeNull();
    expect(v.stages.stored).toBe(v.bytes);
    expect(v.stages.stored).toBeLessThan(v.stages.pruned! / 2);
    expect(v.stages.encoded.gzip).toBeLessThan(v.stages.stored);
    expect(v.stages.encoded.br).toBeLessThan(v.stages.stored);

    // onnxruntime-web loads the sparse form; 90% of the weights gone moves the outputs but keeps their scale.
    const body = { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } };
    const answer = await postJson(`/v1/models/${id}/infer?variant=${v.id}`, body);
    expect(answer.status).toBe(200);
    const out = (await answer.json()) as Answer;
    expect(out.variant).toBe(v.id);
    expect(out.outputs.logits!.dims).toEqual([2, 10]);
    expect(out.outputs.logits!.data.every(Number.isFinite)).toBe(true);

    const again = await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.9, scope: "global", exclude: [] } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Variant).id).toBe(v.id);
  });

  it("prunes then quantizes: int8 survivors keep their zeros, and the wire size drops further", async () => {
    const id = await upload(REFERENCE_MODELS.mlp.build());
    const q = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as Variant;
    const res = await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5 }, quantize: { bits: 8 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Variant;
    expect(v.bits).toBe(8);
    expect(v.stages.pruned).not.toBeNull();
    expect(v.stages.quantized).toBeLessThan(v.stages.pruned! / 3);
    expect(v.stages.encoded.gzip).toBeLessThan(q.stages.encoded.gzip * 0.8);
    expect(v.stages.denseFp32 / v.stages.encoded.br).toBeGreaterThan(6);
    const ref = inject("references").mlp;
    const body = { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } };
    const out = (await (await postJson(`/v1/models/${id}/infer?variant=${v.id}`, body)).json()) as Answer;
    expect(out.outputs.logits!.data).toHaveLength(20);
  });

  it("makes a channel-pruned CNN variant with smaller shapes that onnxruntime-web runs", async () => {
    const ref = inject("references").cnn;
    const id = await upload(REFERENCE_MODELS.cnn.build());
    const res = await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5, structure: "channel", scope: "per-layer" } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Variant;
    expect(v.prune.layers.map((l) => [l.name, l.channels?.after])).toEqual([["conv1.weight", 4], ["conv2.weight", 8]]);
    expect(v.bytes).toBeLessThan(v.stages.denseFp32 / 1.8);
    const body = { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } };
    const out = (await (await postJson(`/v1/models/${id}/infer?variant=${v.id}`, body)).json()) as Answer;
    expect(out.outputs.logits!.dims).toEqual([3, 10]);
  });

  const bad: [string, unknown][] = [
    ["a sparsity of 1", { prune: { sparsity: 1 } }],
    ["N:M with a sparsity", { prune: { sparsity: 0.5, structure: { n: 2, m: 4 } } }],
    ["an unknown structure", { prune: { sparsity: 0.5, structure: "filters" } }],
    ["an exclusion naming no layer", { prune: { sparsity: 0.5, exclude: ["nope"] } }],
  ];
  for (const [what, recipe] of bad) {
    it(`rejects ${what} with 400 invalid_recipe and stores nothing`, async () => {
      const id = await upload(buildMlp([8, 16, 4]));
      expect(await expectError(await postJson(`/v1/models/${id}/variants`, recipe))).toMatchObject({ status: 400, code: "invalid_recipe" });
      expect((await env.BLOBS.list()).objects).toHaveLength(1);
    });
  }
});
