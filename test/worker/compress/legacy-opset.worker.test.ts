// Older models through the HTTP API in workerd: an opset-11 model takes int4 (lifted to opset 21), an opset-9 model
// takes dynamic int8 (lifted to 13); each variant is stored and served, and its outputs stay near the FP32 original's.
// One that cannot be lifted is refused with the op, node and opset that block it, storing nothing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { defaultOpset } from "@worker/onnx/validate";
import { buildMlp, buildUnliftableMlp, randomInput } from "@test/support/models";
import { api, expectError, postJson, uploadModel } from "@test/support/api";

interface Answer {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  variant: string | null;
}

const cosine = (a: number[], b: number[]) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((v, i) => ((ab += v * b[i]!), (aa += v * v), (bb += b[i]! * b[i]!)));
  return ab / Math.sqrt(aa * bb);
};

async function variantOf(bytes: Uint8Array, quantize: Record<string, unknown>) {
  const id = ((await (await uploadModel(bytes)).json()) as { id: string }).id;
  const res = await postJson(`/v1/models/${id}/variants`, { quantize });
  expect(res.status).toBe(201);
  const v = (await res.json()) as { id: string; bits: number; compressionRatio: number; skipped: unknown[] };
  const body = { inputs: { input: { type: "float32", dims: [4, 32], data: randomInput(4 * 32, 9) } } };
  const fp32 = (await (await postJson(`/v1/models/${id}/infer`, body)).json()) as Answer;
  const answer = (await (await postJson(`/v1/models/${id}/infer?variant=${v.id}`, body)).json()) as Answer;
  expect(answer.variant).toBe(v.id);
  const stored = decodeModel(new Uint8Array(await (await api(`/v1/models/${id}/variants/${v.id}/onnx`)).arrayBuffer()));
  return { v, stored, cos: cosine(answer.outputs.logits!.data, fp32.outputs.logits!.data) };
}

describe("models below opset 13 through the API", () => {
  it("int4 on an opset-11 model: lifted to 21, every weight 4-bit, cosine >= 0.99 against FP32", async () => {
    const { v, stored, cos } = await variantOf(buildMlp([32, 64, 10], 3, 11), { bits: 4 });
    expect(defaultOpset(stored)).toBe(21);
    expect(v.skipped).toEqual([]);
    expect(v.compressionRatio).toBeGreaterThan(4);
    expect(cos).toBeGreaterThanOrEqual(0.99);
  });

  it("dynamic int8 on an opset-9 model: lifted to 13, MatMulInteger, cosine >= 0.999 against FP32", async () => {
    const { stored, cos } = await variantOf(buildMlp([32, 64, 10], 4, 9), { bits: 8, scheme: "dynamic" });
    expect(defaultOpset(stored)).toBe(13);
    expect(stored.graph!.node.some((n) => n.opType === "MatMulInteger")).toBe(true);
    expect(cos).toBeGreaterThanOrEqual(0.999);
  });

  it("int4 on a model that cannot be lifted: 422 nothing_to_compress naming the op, node and opset, nothing stored", async () => {
    const id = ((await (await uploadModel(buildUnliftableMlp([32, 64, 10], 5))).json()) as { id: string }).id;
    const before = (await env.BLOBS.list()).objects.length;
    const err = await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 4 } }));
    expect(err).toMatchObject({ status: 422, code: "nothing_to_compress" });
    expect(err.message).toMatch(/lifting from opset 9: Dropout node 'dropout': Dropout's mask output changed type at opset 10/);
    expect((await env.BLOBS.list()).objects).toHaveLength(before);
  });
});
