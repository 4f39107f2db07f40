// A model's skeleton (worker/onnx/skeleton.ts) is standard ONNX whose large tensors are external data in the original
// file: onnxruntime-node loads it beside the original and computes the same outputs; reading every external tensor
// back gives the model protobuf-es decodes from the whole bytes; it validates and summarises as the whole model does,
// while its walk reads a small part of the bytes. Bytes that are not a model, or whose structure is over the bound,
// are refused.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GraphProto, ModelProto, TensorProto } from "onnx-buf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel, modelsEqual, OnnxDecodeError } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { LimitError } from "@worker/onnx/limits";
import {
  bytesSource,
  checkModelPrefix,
  HOLLOW_TENSOR_BYTES,
  loadTensorData,
  MAX_SKELETON_BYTES,
  readSkeleton,
  SKELETON_LOCATION,
  skeletonRange,
} from "@worker/onnx/skeleton";
import { makeTensor } from "@worker/onnx/tensor";
import { OnnxValidationError } from "@worker/onnx/backing";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { mlpModel, rng } from "@test/support/models";
import { cosine, zooModels, type ZooModel } from "@test/support/zoo";
import { ort } from "@test/support/ort-node";
import { recordingSource } from "@test/support/byte-sources";

const FIXTURES = new URL("../../fixtures/models/", import.meta.url).pathname;

/** Every tensor a model holds: initializers, node attributes (Constant values), in subgraphs and functions too. */
function allTensors(model: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  const graph = (g: GraphProto) => {
    out.push(...g.initializer);
    for (const n of g.node) {
      for (const a of n.attribute) {
        if (a.t) out.push(a.t);
        out.push(...a.tensors);
        if (a.g) graph(a.g);
        a.graphs.forEach(graph);
      }
    }
  };
  graph(model.graph!);
  for (const f of model.functions) for (const n of f.node) for (const a of n.attribute) if (a.t) out.push(a.t);
  return out;
}

async function rehydrated(skeleton: Uint8Array, original: Uint8Array): Promise<ModelProto> {
  const model = decodeModel(skeleton);
  for (const t of allTensors(model)) await loadTensorData(t, bytesSource(original));
  return model;
}

describe("the skeleton of real exporters' models (the zoo)", () => {
  let zoo: ZooModel[];
  const dir = mkdtempSync(join(tmpdir(), "skeleton-"));
  beforeAll(async () => {
    zoo = await zooModels();
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads back, through its external ranges, to exactly the model decoded whole", async () => {
    expect(zoo.length).toBeGreaterThanOrEqual(8);
    for (const m of zoo) {
      const skeleton = await readSkeleton(bytesSource(m.bytes));
      expect(skeleton.hollowed, m.name).toBeGreaterThan(0);
      expect(modelsEqual(await rehydrated(skeleton.bytes, m.bytes), decodeModel(m.bytes)), m.name).toBe(true);
    }
  });

  it("validates and summarises as the whole model does, holding under a fifth of its bytes", async () => {
    for (const m of zoo) {
      const skeleton = await readSkeleton(bytesSource(m.bytes));
      const model = decodeModel(skeleton.bytes);
      validateModel(model, { skeletonOf: m.bytes.byteLength });
      expect(summarizeModel(model), m.name).toEqual(summarizeModel(decodeModel(m.bytes)));
      if (m.bytes.byteLength > 1_000_000) expect(skeleton.bytes.byteLength, m.name).toBeLessThan(m.bytes.byteLength / 5);
    }
  });

  it("is standard ONNX: onnxruntime-node loads it with the original file as its external data, same outputs", async () => {
    for (const m of zoo) {
      const skeleton = await readSkeleton(bytesSource(m.bytes));
      const modelDir = join(dir, m.name);
      mkdirSync(modelDir, { recursive: true });
      writeFileSync(join(modelDir, SKELETON_LOCATION), m.bytes);
      writeFileSync(join(modelDir, "skeleton.onnx"), skeleton.bytes);
      const feeds = m.inputs(7);
      const whole = await ort.InferenceSession.create(m.bytes);
      const viaSkeleton = await ort.InferenceSession.create(join(modelDir, "skeleton.onnx"));
      const want = await whole.run(feeds);
      const got = await viaSkeleton.run(feeds);
      for (const name of whole.outputNames) {
        // Same weights, same graph: the same numbers (cosine 1 within float rounding).
        expect(cosine(got[name]!.data as Float32Array, want[name]!.data as Float32Array), `${m.name} ${name}`).toBeGreaterThan(0.999999);
      }
    }
  }, 300_000);
});

describe("reading a large model's structure", () => {
  // Twelve 4 MiB layers (48 MiB): the walk fetches the structure and one window per tensor, not the weights.
  const model = mlpModel([1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024]);
  const bytes = encodeModel(model);

  it("reads a small part of the bytes and leaves every weight out", async () => {
    const source = recordingSource(bytes);
    const skeleton = await readSkeleton(source);
    // Twelve weights and twelve biases (1024 floats: 4 KiB, at HOLLOW_TENSOR_BYTES).
    expect(skeleton.hollowed).toBe(24);
    expect(skeleton.hollowedBytes).toBe(12 * (1024 * 1024 * 4 + 4096));
    expect(skeleton.bytes.byteLength).toBeLessThan(64 * 1024);
    // At most one 1 MiB window per tensor boundary, plus the first.
    expect(source.bytesRead).toBeLessThan(bytes.byteLength / 3);
    for (const t of decodeModel(skeleton.bytes).graph!.initializer) {
      const range = skeletonRange(t);
      if (t.dims.reduce((a, b) => a * b, 1n) * 4n >= BigInt(HOLLOW_TENSOR_BYTES)) expect(range, t.name).toBeDefined();
    }
  });
});

describe("the first bytes of a body still arriving (checkModelPrefix)", () => {
  it("accepts every prefix of real exporters' models and of the trained fixtures, cut anywhere", async () => {
    const fixtures = readdirSync(FIXTURES, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".onnx"))
      .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(FIXTURES, f))) }));
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
    for (const m of [...(await zooModels()), ...fixtures]) {
      for (const cut of [0, 1, 2, 7, 100, 4096, 65_537, Math.floor(m.bytes.byteLength / 2), m.bytes.byteLength]) {
        expect(() => checkModelPrefix(m.bytes.subarray(0, Math.min(cut, m.bytes.byteLength))), `${m.name} cut at ${cut}`).not.toThrow();
      }
    }
  }, 600_000);

  it("refuses bytes that are not ONNX within their first bytes: seeded junk, text, a zip, zeros", () => {
    const next = rng(11);
    const junk = Uint8Array.from({ length: 1 << 20 }, () => Math.floor(next() * 256));
    const text = new TextEncoder().encode("<!doctype html><html><body>not a model</body></html>".repeat(1000));
    const zip = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...new Array(1000).fill(0x11)]);
    for (const [what, bytes] of [["junk", junk], ["text", text], ["zip", zip], ["zeros", new Uint8Array(4096)]] as const) {
      expect(() => checkModelPrefix(bytes), what).toThrow(OnnxDecodeError);
    }
  });

  it("refuses a model whose graph turns to junk after its first node, walking into the graph", () => {
    const bytes = encodeModel(mlpModel([16, 1100, 4]));
    expect(() => checkModelPrefix(bytes)).not.toThrow();
    // The last 64 bytes lie inside the graph (its outputs follow its nodes and weights): spoiled with group tags.
    const spoiled = bytes.slice();
    spoiled.fill(0x0b, bytes.byteLength - 64);
    expect(() => checkModelPrefix(spoiled)).toThrow(OnnxDecodeError);
  });
});

describe("what a skeleton refuses", () => {
  const small = encodeModel(mlpModel([16, 1100, 4]));

  it("truncated bytes: 400 invalid_model, whatever the cut", async () => {
    for (const cut of [1, 7, 100, small.byteLength - 3]) {
      await expect(readSkeleton(bytesSource(small.subarray(0, cut))), `cut at ${cut}`).rejects.toBeInstanceOf(OnnxDecodeError);
    }
    await expect(readSkeleton(bytesSource(new Uint8Array(0)))).rejects.toBeInstanceOf(OnnxDecodeError);
  });

  it("bytes that are not protobuf (a group wire type, field 0)", async () => {
    await expect(readSkeleton(bytesSource(Uint8Array.of(0x0b, 0x0c)))).rejects.toBeInstanceOf(OnnxDecodeError);
    await expect(readSkeleton(bytesSource(Uint8Array.of(0x00, 0x01)))).rejects.toBeInstanceOf(OnnxDecodeError);
  });

  it("a structure over MAX_SKELETON_BYTES (an int64 table that must stay inline): 413, before it is read", async () => {
    const n = MAX_SKELETON_BYTES / 8 + 1024;
    const table = makeTensor("table", DT.INT64, [n], new BigInt64Array(n));
    const model = makeModel(
      makeGraph(
        [makeNode("Gather", ["table", "i"], ["y"], "gather")],
        "table",
        [makeValueInfo("i", DT.INT64, [1])],
        [makeValueInfo("y", DT.INT64, [1])],
        [table],
      ),
    );
    const source = recordingSource(encodeModel(model));
    await expect(readSkeleton(source)).rejects.toBeInstanceOf(LimitError);
    expect(source.bytesRead).toBeLessThan(4 * 1024 * 1024);
  });

  it("a skeleton whose external range runs past the object, or whose length is not its dims': 400", async () => {
    const skeleton = await readSkeleton(bytesSource(small));
    const model = decodeModel(skeleton.bytes);
    expect(() => validateModel(model, { skeletonOf: small.byteLength - 100 })).toThrow(OnnxValidationError);
    const w = model.graph!.initializer.find((t) => skeletonRange(t))!;
    w.externalData.find((e) => e.key === "length")!.value = String(skeletonRange(w)!.length - 4);
    expect(() => validateModel(model, { skeletonOf: small.byteLength })).toThrow(/raw_data/);
  });

  it("external data in an ordinary upload is still refused: only a skeleton's own ranges are backed", async () => {
    const skeleton = await readSkeleton(bytesSource(small));
    expect(() => validateModel(decodeModel(skeleton.bytes))).toThrow(/external data/);
  });
});
