import { env, listDurableObjectIds } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { REFERENCE_MODELS } from "@test/support/reference-models";
import { buildMlp, buildNonFiniteMlp, buildTf2onnxClassifier, buildUnliftableMlp } from "@test/support/models";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { api, expectError, postJson, sha256Hex, uploadModel } from "@test/support/api";
import { npy, npz, uniformFloats } from "@test/support/npz";

async function upload(bytes: Uint8Array): Promise<string> {
  return ((await (await uploadModel(bytes)).json()) as { id: string }).id;
}

describe("POST /v1/models/:id/variants", () => {
  it("makes an int8 variant (201) whose bytes equal the quantizer's output computed in Node", async () => {
    const bytes = REFERENCE_MODELS.mlp.build();
    const id = await upload(bytes);
    const res = await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Record<string, any>;
    expect(v).toMatchObject({
      modelId: id,
      bits: 8,
      recipe: { quantize: { bits: 8, scheme: "weight-only", granularity: "per-channel", symmetric: true } },
      sha256: inject("references").mlp.int8Sha256,
    });
    expect(v.compressionRatio).toBeCloseTo(bytes.byteLength / v.bytes, 6);
    expect(v.compressionRatio).toBeGreaterThan(3.5);
    expect(v.tensors.map((t: { name: string }) => t.name).sort()).toEqual(["fc0.weight", "fc1.weight", "head.weight"]);
    for (const t of v.tensors) {
      expect(t.sqnrDb).toBeGreaterThan(30);
      expect(t.maxAbsError).toBeLessThanOrEqual(t.scaleMax / 2 + 1e-7);
    }
    // Served on the kernel engine: its int8 levels packed (a byte per weight, and the scales) within what it holds.
    const weights = v.tensors.reduce((n: number, t: { shape: number[] }) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(v.engine).toBe("kernels");
    expect(v.weightBytes).toBeGreaterThanOrEqual(weights);
    expect(v.weightBytes).toBeLessThan(weights * 1.25);
    expect(v.residentBytes).toBeGreaterThanOrEqual(v.weightBytes);
  });

  it("compresses a tf2onnx-style opset-11 classifier (Softmax with no stated shapes) under every recipe, served on the kernels", async () => {
    // Its Softmax's rank follows from the ops before it, so the model lifts where int4 and dynamic int8 need opset 13+;
    // int8 stays at 11 as Cast + Mul, which the engine reads as int8 levels.
    const id = await upload(buildTf2onnxClassifier(11));
    for (const quantize of [{ bits: 8 }, { bits: 4 }, { bits: 8, scheme: "dynamic" }, { bits: 1 }]) {
      const res = await postJson(`/v1/models/${id}/variants`, { quantize });
      expect(res.status, JSON.stringify(quantize)).toBe(201);
      const v = (await res.json()) as Record<string, any>;
      expect(v.engine, JSON.stringify(quantize)).toBe("kernels");
      expect(v.tensors.map((t: { name: string }) => t.name).sort()).toEqual(["conv1/kernel", "conv2/kernel", "dense/kernel"]);
      const infer = await postJson(`/v1/models/${id}/infer?variant=${v.id}`, {
        inputs: { "input_1:0": { type: "float32", dims: [2, 8, 8, 3], data: Array.from({ length: 384 }, (_, i) => Math.sin(i)) } },
      });
      expect(infer.status).toBe(200);
      const out = ((await infer.json()) as Record<string, any>).outputs["Identity:0"];
      expect(out.dims).toEqual([2, 10]);
      // Probabilities per row: the lifted Softmax still normalises over the classes.
      for (const row of [0, 1]) expect(out.data.slice(row * 10, row * 10 + 10).reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it("returns the same variant (200) for the same recipe, spelled differently, without recomputing", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const first = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; createdAt: string };
    const again = await postJson(`/v1/models/${id}/variants`, { quantize: { symmetric: true, bits: 8, scheme: "weight-only" } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: first.id, createdAt: first.createdAt });
    const model = (await (await api(`/v1/models/${id}`)).json()) as { variants: { id: string; bits: number }[] };
    expect(model.variants).toMatchObject([{ id: first.id, bits: 8 }]);
  });

  const badRecipes: [string, unknown][] = [
    ["an empty recipe", {}],
    ["an unsupported bit-width", { quantize: { bits: 3 } }],
    ["an unknown key", { quantize: { bits: 8 }, sharpen: true }],
    ["a non-object", [8]],
  ];
  for (const [what, recipe] of badRecipes) {
    it(`rejects ${what} with 400 invalid_recipe`, async () => {
      const id = await upload(buildMlp([8, 16, 4]));
      expect(await expectError(await postJson(`/v1/models/${id}/variants`, recipe))).toMatchObject({ status: 400, code: "invalid_recipe" });
      expect((await env.BLOBS.list()).objects).toHaveLength(1);
    });
  }

  it("answers 422 nothing_to_compress, naming each weight and why it was left, for a recipe that changes no weight", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const err = await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8, exclude: ["MatMul", "Gemm"] } }));
    expect(err).toMatchObject({ status: 422, code: "nothing_to_compress" });
    expect(err.message).toMatch(/fc0\.weight \(fc0\/MatMul\): excluded by the recipe; head\.weight \(head\/Gemm\): excluded by the recipe/);
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
  });

  it("reports each weight it left float with its reason and its element count", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8, exclude: ["Gemm"] } })).json()) as { skipped: unknown[] };
    expect(v.skipped).toEqual([{ name: "head.weight", node: "head/Gemm", reason: "excluded by the recipe", elements: 4 * 16 }]);
  });

  it("answers 422 nothing_to_compress for a model with no weights at all (a Relu)", async () => {
    const relu = makeGraph([makeNode("Relu", ["input"], ["output"], "relu")], "relu", [makeValueInfo("input", DT.FLOAT, ["N", 8])], [makeValueInfo("output", DT.FLOAT, ["N", 8])], []);
    const id = await upload(encodeModel(makeModel(relu)));
    expect(await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } }))).toMatchObject({ status: 422, code: "nothing_to_compress" });
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
  });

  it("answers 422 variant_failed, naming the output, for a variant that would answer non-finite values, storing nothing", async () => {
    const id = await upload(buildNonFiniteMlp());
    const records = (await env.RECORDS.list()).keys.map((k) => k.name);
    const err = await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } }));
    expect(err).toMatchObject({ status: 422, code: "variant_failed" });
    expect(err.message).toMatch(/the variant's output 'logits' is not finite/);
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
    expect((await env.RECORDS.list()).keys.map((k) => k.name)).toEqual(records);
  });

  it("rejects a body that is not JSON with a 400", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const res = await api(`/v1/models/${id}/variants`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{bits:" });
    expect((await expectError(res)).status).toBe(400);
  });

  it("answers 404 for another tenant's model and for unknown variants", async () => {
    const id = await upload(buildMlp([8, 16, 4]));
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string };
    expect(await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } }, "beta"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await expectError(await api(`/v1/models/${id}/variants/${v.id}`, { tenant: "beta" }))).toMatchObject({ status: 404 });
    expect(await expectError(await api(`/v1/models/${id}/variants/ffffffffffffffffffffffff`))).toMatchObject({ status: 404, code: "not_found" });
  });
});

describe("POST /v1/models/:id/variants: recipes the model's graph refutes, on the job path", () => {
  /** An opset-9 MLP (8 inputs) that cannot be lifted, and a dataset for it: `eval` (or scheme 'static') sends any recipe through a job. */
  async function opset9WithDataset() {
    const model = await upload(buildUnliftableMlp([8, 16, 4], 3));
    const data = npz({ input: npy("<f4", [16, 8], uniformFloats(16 * 8, 2)), labels: npy("<i8", [16], new BigInt64Array(16)) });
    const res = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: await data });
    return { model, dataset: ((await res.json()) as { id: string }).id };
  }

  const refuted: [string, Record<string, unknown>, RegExp][] = [
    ["dynamic int8 on an opset-9 model that cannot be lifted", { quantize: { bits: 8, scheme: "dynamic" } }, /scheme 'dynamic' needs opset >= 11 .* the model has 9 and cannot be lifted: .*Dropout's mask output changed type at opset 10/],
    ["2-bit weights on a model that cannot be lifted to opset 25", { quantize: { bits: 2 } }, /quantize bits 2: int2 weights need opset 25; lifting from opset 9: Dropout node 'dropout'/],
    ["an override naming no layer", { quantize: { bits: 8, overrides: { "fc9/MatMul": 4 } } }, /overrides: 'fc9\/MatMul' is not a quantizable layer/],
    ["an exclusion naming nothing", { quantize: { bits: 4, exclude: ["Conv"] } }, /exclude: 'Conv' names no layer or op type/],
    ["pruning a name the model lacks", { prune: { sparsity: 0.5, exclude: ["fc9.weight"] } }, /prune names 'fc9.weight'/],
  ];
  for (const [what, recipe, message] of refuted) {
    it(`refuses ${what} with the inline path's 400 at once, creating no job`, async () => {
      const { model, dataset } = await opset9WithDataset();
      const inline = await expectError(await postJson(`/v1/models/${model}/variants`, recipe));
      expect(inline).toMatchObject({ status: 400, code: "invalid_recipe" });
      expect(inline.message).toMatch(message);
      const asJob = await expectError(await postJson(`/v1/models/${model}/variants`, { ...recipe, eval: { dataset } }));
      expect(asJob).toEqual(inline);
      expect(await listDurableObjectIds(env.JOB_STATE)).toHaveLength(0);
    });
  }

  it("refuses scheme 'static' on an opset-9 model that cannot be lifted before queueing its calibration", async () => {
    const { model, dataset } = await opset9WithDataset();
    const err = await expectError(await postJson(`/v1/models/${model}/variants`, { quantize: { bits: 8, scheme: "static", calibration: { dataset } } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/scheme 'static' needs opset >= 10 .* the model has 9 and cannot be lifted: .*Dropout's mask output changed type at opset 10/);
    expect(await listDurableObjectIds(env.JOB_STATE)).toHaveLength(0);
  });
});

describe("GET /v1/models/:id/variants/:vid[/onnx]", () => {
  it("returns the record and downloads bytes whose hash is the record's sha256", async () => {
    const id = await upload(REFERENCE_MODELS.cnn.build());
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; sha256: string; bytes: number };
    expect(await (await api(`/v1/models/${id}/variants/${v.id}`)).json()).toEqual(v);
    const res = await api(`/v1/models/${id}/variants/${v.id}/onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get("ETag")).toBe(`"${v.sha256}"`);
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBe(v.bytes);
    expect(await sha256Hex(body)).toBe(inject("references").cnn.int8Sha256);
  });

  it("downloads the variant's stored bytes unencoded whatever Accept-Encoding says", async () => {
    const id = await upload(REFERENCE_MODELS.cnn.build());
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string; sha256: string; bytes: number };
    const res = await api(`/v1/models/${id}/variants/${v.id}/onnx`, { headers: { "Accept-Encoding": "gzip, br" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect(res.headers.get("Content-Type")).toBe("application/x-protobuf");
    expect(res.headers.get("Content-Length")).toBe(String(v.bytes));
    expect(res.headers.get("ETag")).toBe(`"${v.sha256}"`);
    expect(res.headers.get("Vary")).toBe("Accept-Encoding");
    expect(await sha256Hex(await res.arrayBuffer())).toBe(inject("references").cnn.int8Sha256);
  });
});
