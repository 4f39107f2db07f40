import { env } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { REFERENCE_MODELS } from "@test/support/reference-models";
import { buildFilterbank, buildMlp } from "@test/support/models";
import { expectError, postJson, sha256Hex, uploadModel } from "@test/support/api";

async function upload(bytes: Uint8Array): Promise<string> {
  return ((await (await uploadModel(bytes)).json()) as { id: string }).id;
}

interface Variant {
  id: string;
  sha256: string;
  bits: number;
  bytes: number;
  recipe: unknown;
  prune: {
    sparsity: number;
    layers: { name: string; sparsity: number; zeros: number; capped: boolean; maxSparsity: number; outputChange: number; channels?: { after: number } }[];
    skipped: unknown[];
    warnings: string[];
    sparseTensors: { name: string }[];
  };
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

describe("the layer cap of global pruning through the API", () => {
  // Variant ids as variants.ts defines them, spelled out here: sha256 of model sha256, newline, canonical recipe.
  const idOf = async (modelBytes: Uint8Array, canonicalRecipe: string) => {
    const modelSha = await sha256Hex(modelBytes.slice().buffer);
    return (await sha256Hex(new TextEncoder().encode(`${modelSha}\n${canonicalRecipe}`).slice().buffer)).slice(0, 24);
  };
  const recipe50 = (extra: string) =>
    `{"prune":{"exclude":[],${extra}"method":"magnitude","norm":"l2","overrides":{},"scope":"global","sparsity":0.5,"structure":"unstructured"}}`;

  it("caps the filterbank at 0.95, flags it in the record, and addresses the variant with the cap that bound", async () => {
    const bytes = buildFilterbank();
    const id = await upload(bytes);
    const res = await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Variant;
    // floor(0.95 x 128) = 121 of the filterbank's weights go, and 320 - 121 = 199 of fc's.
    expect(v.prune.layers.map((l) => [l.name, l.zeros, l.capped, l.maxSparsity])).toEqual([
      ["mel.weight", 121, true, 0.95],
      ["fc.weight", 199, false, 0.95],
    ]);
    expect(v.prune.layers[0]!.outputChange).toBeLessThan(1);
    expect(v.prune.warnings[0]).toMatch(/^mel\.weight \(mel\/MatMul\): capped at sparsity 0\.95/);
    expect(v.id).toBe(await idOf(bytes, recipe50('"maxLayerSparsity":0.95,')));
    expect((v.recipe as { prune: { maxLayerSparsity?: number } }).prune.maxLayerSparsity).toBe(0.95);
    // The same recipe, and the default said aloud, find it again.
    for (const again of [{ prune: { sparsity: 0.5 } }, { prune: { sparsity: 0.5, maxLayerSparsity: 0.95 } }]) {
      const found = await postJson(`/v1/models/${id}/variants`, again);
      expect(found.status).toBe(200);
      expect(((await found.json()) as Variant).id).toBe(v.id);
    }
  });

  it("keeps the id a global prune had before caps where no cap binds", async () => {
    const bytes = REFERENCE_MODELS.mlp.build();
    const id = await upload(bytes);
    const v = (await (await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5 } })).json()) as Variant;
    expect(v.prune.layers.every((l) => !l.capped)).toBe(true);
    expect(v.id).toBe(await idOf(bytes, recipe50("")));
  });

  it("takes a per-layer cap by name, and without the cap removes the whole filterbank but says so", async () => {
    const id = await upload(buildFilterbank());
    const half = (await (await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5, maxLayerSparsityOverrides: { "mel/MatMul": 0.5 } } })).json()) as Variant;
    expect(half.prune.layers.map((l) => l.zeros)).toEqual([64, 256]);
    const all = (await (await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5, maxLayerSparsity: 1 } })).json()) as Variant;
    expect(all.prune.layers[0]).toMatchObject({ zeros: 128, capped: false, outputChange: 1 });
    expect(all.prune.warnings).toContain("mel.weight (mel/MatMul): output changed by 1 (relative L2 on probe inputs)");
  });

  it("answers 400 invalid_recipe naming a capped layer the model lacks, and stores nothing", async () => {
    const id = await upload(buildFilterbank());
    const err = await expectError(await postJson(`/v1/models/${id}/variants`, { prune: { sparsity: 0.5, maxLayerSparsityOverrides: { "mel.wieght": 0.5 } } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toContain("'mel.wieght'");
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
  });
});
