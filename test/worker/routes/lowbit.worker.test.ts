// 2-bit and 1-bit variants through the HTTP API in workerd: made, served by ?bits=, downloaded as the exact bytes
// onnxruntime-node ran (globalSetup), run by onnxruntime-web in workerd (the engine's fallback), sized as INT2.
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { createOrtSession, makeOrtTensor } from "@worker/serve/ort";
import { decodeModel } from "@worker/onnx/codec";
import { REFERENCE_MODELS } from "@test/support/reference-models";
import { buildMlp, buildUnliftableMlp } from "@test/support/models";
import { api, expectError, postJson, sha256Hex, uploadModel } from "@test/support/api";

// The kernel engine quantizes activations to int8 per row for ternary and binary weights (qs4/qs8 kernels): 3% of the
// output range against onnxruntime-node on the same graph, as for int4.
const KERNEL_LOWBIT_TOLERANCE = 0.03;
const SAME_GRAPH_TOLERANCE = 1e-4;

interface Answer {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  variant: string | null;
  bits: number;
  engine: string;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  return Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};

async function setUp() {
  const bytes = REFERENCE_MODELS.mlp.build();
  const id = ((await (await uploadModel(bytes)).json()) as { id: string }).id;
  const ref = inject("references").mlp;
  return { bytes, id, ref, body: { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } } };
}

describe("2-bit and 1-bit variants", () => {
  it("makes a 2-bit variant (blocks of 32 by default) and serves it by ?bits=2 on the kernel engine", async () => {
    const { bytes, id, ref, body } = await setUp();
    const res = await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 2 } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as Record<string, any>;
    expect(v).toMatchObject({
      bits: 2,
      recipe: { quantize: { bits: 2, granularity: { block: 32 }, scheme: "weight-only", symmetric: true } },
      sha256: ref.lowBit["2"].sha256,
      engine: "kernels",
    });
    expect(v.tensors.map((t: { bits: number }) => t.bits)).toEqual([2, 2, 2]);
    expect(v.stages).toMatchObject({ denseFp32: bytes.byteLength, quantized: v.bytes, stored: v.bytes, pruned: null });
    // 2 bits per weight plus one float scale per 32: about 3 bits, i.e. > 9x below fp32.
    expect(v.compressionRatio).toBeCloseTo(bytes.byteLength / v.bytes, 6);
    expect(v.compressionRatio).toBeGreaterThan(9);

    const answer = (await (await postJson(`/v1/models/${id}/infer?bits=2`, body)).json()) as Answer;
    expect(answer).toMatchObject({ variant: v.id, bits: 2, engine: "kernels" });
    const range = Math.max(...ref.lowBit["2"].outputs.map(Math.abs));
    expect(maxAbsDiff(answer.outputs.logits!.data, ref.lowBit["2"].outputs)).toBeLessThan(KERNEL_LOWBIT_TOLERANCE * range);
  });

  it("downloads the 2-bit bytes onnxruntime-node ran, and onnxruntime-web in workerd runs them to the same outputs", async () => {
    const { id, ref } = await setUp();
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 2 } })).json()) as { id: string };
    const res = await api(`/v1/models/${id}/variants/${v.id}/onnx`);
    expect(res.status).toBe(200);
    const downloaded = new Uint8Array(await res.arrayBuffer());
    expect(await sha256Hex(downloaded.buffer as ArrayBuffer)).toBe(ref.lowBit["2"].sha256);
    const session = await createOrtSession(downloaded);
    try {
      const out = await session.run({ input: makeOrtTensor("float32", Float32Array.from(ref.input), ref.dims) });
      expect(maxAbsDiff(out.logits!.data as Float32Array, ref.lowBit["2"].outputs)).toBeLessThan(SAME_GRAPH_TOLERANCE);
    } finally {
      await session.release();
    }
  });

  it("stores a 1-bit variant in at most 1/16 of the fp32 weight bytes plus scales, biases and the graph", async () => {
    const { bytes, id, ref, body } = await setUp();
    const v = (await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 1 } })).json()) as Record<string, any>;
    expect(v.sha256).toBe(ref.lowBit["1"].sha256);
    const g = decodeModel(bytes).graph!;
    const weights = g.initializer.filter((t) => t.name.endsWith(".weight"));
    const weightBytes = weights.reduce((a, t) => a + t.rawData.byteLength, 0);
    const biasBytes = g.initializer.filter((t) => !t.name.endsWith(".weight")).reduce((a, t) => a + t.rawData.byteLength, 0);
    const channels = weights.reduce((a, t) => a + Number(t.name === "head.weight" ? t.dims[0] : t.dims[1]), 0);
    // Overhead: one float scale per output channel, the float biases, the original's graph (names, nodes, shapes,
    // protobuf framing) and 512 bytes for the three DequantizeLinear nodes and their tensors' names.
    const graphBytes = bytes.byteLength - weightBytes - biasBytes;
    expect(v.bytes).toBeLessThanOrEqual(weightBytes / 16 + 4 * channels + biasBytes + graphBytes + 512);
    expect(v.compressionRatio).toBeGreaterThan(14);
    const answer = (await (await postJson(`/v1/models/${id}/infer?bits=1`, body)).json()) as Answer;
    expect(answer).toMatchObject({ variant: v.id, bits: 1, engine: "kernels" });
    expect(maxAbsDiff(answer.outputs.logits!.data, ref.lowBit["1"].outputs)).toBeLessThan(KERNEL_LOWBIT_TOLERANCE);
  });

  it("refuses 2 bits for a model that cannot be lifted to opset 25 with 400 invalid_recipe, storing nothing", async () => {
    const id = ((await (await uploadModel(buildUnliftableMlp([8, 16, 4]))).json()) as { id: string }).id;
    const err = await expectError(await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 2 } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/bits 2: int2 weights need opset 25; lifting from opset 9: Dropout node 'dropout': Dropout's mask output changed type at opset 10/);
    expect((await env.BLOBS.list()).objects).toHaveLength(1);
  });
});
