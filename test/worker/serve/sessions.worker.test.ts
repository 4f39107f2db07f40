// What a session is charged in the session cache: measured bytes, not a multiple of the model's size.
import { describe, expect, it } from "vitest";
import { ortHeapBytes } from "@worker/serve/ort";
import { evictAllSessions, getSession, openSession } from "@worker/serve/sessions";
import { buildMlp, buildUncoveredMlp } from "@test/support/models";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { recordingSource } from "@test/support/byte-sources";

const MiB = 1024 * 1024;

describe("openSession's resident bytes", () => {
  it("charges an onnxruntime-web session what the runtime's heap grew by to hold it", async () => {
    // ~26 MB of fp32 weights: more than the runtime's starting heap holds, so creating the session grows it.
    const bytes = buildMlp([1024, 2048, 2048, 10], 5);
    expect(bytes.byteLength).toBeGreaterThan(24 * MiB);
    const before = ortHeapBytes();
    const session = await openSession(bytes, false, bytes.byteLength);
    try {
      const after = ortHeapBytes();
      expect(session.engine).toBe("onnxruntime-web");
      expect(after).toBeGreaterThan(before);
      // Inside the heap, and more than the weights alone (the runtime copies the model in while it builds them):
      // measured, where the floor of the fp32 weights would give exactly the model's size.
      expect(session.residentBytes).toBeLessThanOrEqual(after);
      expect(session.residentBytes).toBeGreaterThan(bytes.byteLength);
    } finally {
      await session.release();
    }
  });

  it("charges a kernel engine session its instance's memory, which grows with its activation arena on first run", async () => {
    const bytes = buildMlp([64, 512, 10], 6);
    const session = await openSession(bytes, false, bytes.byteLength, true);
    expect(session.engine).toBe("kernels");
    const loaded = session.residentBytes;
    // fp32 weights packed in the instance's memory (64 KiB pages).
    expect(loaded).toBeGreaterThan((64 * 512 + 512 * 10) * 4);
    expect(loaded % 65536).toBe(0);
    const batch = 4096; // activations of 4096 x 512 floats (8 MiB) do not fit in what the weights left
    await session.run({ input: { type: "float32", dims: [batch, 64], data: new Float32Array(batch * 64) } });
    expect(session.residentBytes).toBeGreaterThan(loaded + 8 * MiB);
  });
});

describe("getSession", () => {
  // Sessions are reference counted: getSession hands the caller a reference, and an eviction frees a session only
  // once every reference is released.
  const uncovered = () => {
    const bytes = buildUncoveredMlp([16, 32, 4], 7); // Shrink: served by onnxruntime-web
    return { bytes, input: { input: { type: "float32", dims: [1, 16], data: new Float32Array(16).fill(0.5) } } };
  };
  const mlp = () => {
    const bytes = buildMlp([16, 32, 4], 8); // served by the kernel engine
    return { bytes, input: { input: { type: "float32", dims: [1, 16], data: new Float32Array(16).fill(0.25) } } };
  };

  for (const [engine, make] of [["onnxruntime-web", uncovered], ["kernels", mlp]] as const) {
    it(`lets a run finish on a ${engine} session evicted while it runs, and frees the session after the holder releases it`, async () => {
      evictAllSessions();
      const { bytes, input } = make();
      const { session, cache } = await getSession(`t/${engine}/original`, async () => ({ bytes, foldWeightDequantize: false, fp32Bytes: bytes.byteLength }));
      expect([session.engine, cache]).toEqual([engine, "miss"]);
      const running = session.run(input);
      evictAllSessions(); // another request needed the room
      const out = await running;
      expect(Object.values(out)[0]!.dims.length).toBe(2);
      // Still held by this caller: a second run works, then the last reference goes and the session is freed.
      expect(Object.values(await session.run(input))[0]!.dims).toEqual(Object.values(out)[0]!.dims);
      await session.release();
      await expect(session.run(input)).rejects.toThrow(/released/);
    });

    it(`keeps a cached ${engine} session for a request that took it before an eviction, until it runs`, async () => {
      evictAllSessions();
      const { bytes, input } = make();
      const source = async () => ({ bytes, foldWeightDequantize: false, fp32Bytes: bytes.byteLength });
      const warm = await getSession(`t/${engine}/held`, source);
      await warm.session.release();
      // A request takes the cached session; the cache drops it before the request gets to run it.
      const { session, cache } = await getSession(`t/${engine}/held`, source);
      expect([session, cache]).toEqual([warm.session, "hit"]);
      evictAllSessions();
      expect(Object.keys(await session.run(input))).toHaveLength(1);
      await session.release();
      await expect(session.run(input)).rejects.toThrow(/released/);
    });
  }

  it("hands each of several requests missing at once its own reference to the one session they share", async () => {
    evictAllSessions();
    const { bytes, input } = mlp();
    let loads = 0;
    const source = async () => {
      loads++;
      return { bytes, foldWeightDequantize: false, fp32Bytes: bytes.byteLength };
    };
    const got = await Promise.all([1, 2, 3].map(() => getSession("t/mlp/shared", source)));
    expect(loads).toBe(1);
    expect(new Set(got.map((g) => g.session)).size).toBe(1);
    evictAllSessions(); // the cache's reference goes; the three requests still hold theirs
    const session = got[0]!.session;
    for (const g of got.slice(0, 2)) {
      await g.session.release();
      expect(Object.keys(await session.run(input))).toHaveLength(1);
    }
    await got[2]!.session.release();
    await expect(session.run(input)).rejects.toThrow(/released/);
  });
});

describe("a variant's session loaded by range", () => {
  const int8 = (bytes: Uint8Array) => compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { bits: 8 } }), undefined, bytes.byteLength).bytes;
  it("packs each weight on the kernel engine as it is read, never reading the whole object, and answers as a session from the bytes", async () => {
    evictAllSessions();
    // Over the skeleton reader's 1 MiB windows several times: four weights of 1 MiB.
    const bytes = int8(buildMlp([1024, 1024, 1024, 1024, 10], 9));
    const source = recordingSource(bytes);
    const { session } = await getSession("t/ranged/int8", async () => ({ ranged: source, fp32Bytes: bytes.byteLength }));
    const whole = await openSession(bytes, true, bytes.byteLength, true);
    const input = { input: { type: "float32", dims: [2, 1024], data: Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i)) } };
    try {
      expect(session.engine).toBe("kernels");
      expect(Math.max(...source.reads)).toBeLessThan(bytes.byteLength / 2);
      expect(session.residentBytes).toBe(whole.residentBytes);
      expect(Array.from((await session.run(input)).logits!.data as Float32Array)).toEqual(Array.from((await whole.run(input)).logits!.data as Float32Array));
    } finally {
      await session.release();
      await whole.release();
    }
  });

  it("reads the bytes whole and serves on onnxruntime-web where the kernel engine does not cover the graph", async () => {
    evictAllSessions();
    // Shrink is not a kernel-engine op.
    const graph = makeGraph(
      [makeNode("MatMul", ["x", "w"], ["h"], "fc"), makeNode("Shrink", ["h"], ["y"], "shrink", { lambd: { float: 0 } })],
      "shrink",
      [makeValueInfo("x", DT.FLOAT, [1, 128])],
      [makeValueInfo("y", DT.FLOAT, [1, 128])],
      [makeTensor("w", DT.FLOAT, [128, 128], Float32Array.from({ length: 128 * 128 }, (_, i) => Math.cos(i) / 16))],
    );
    const bytes = int8(encodeModel(makeModel(graph)));
    const source = recordingSource(bytes);
    const { session } = await getSession("t/ranged/shrink", async () => ({ ranged: source, fp32Bytes: bytes.byteLength }));
    try {
      expect(session.engine).toBe("onnxruntime-web");
      expect(source.reads).toContain(bytes.byteLength);
      const out = await session.run({ x: { type: "float32", dims: [1, 128], data: new Float32Array(128).fill(0.5) } });
      const y = out.y!.data as Float32Array;
      expect(y.every(Number.isFinite) && y.some((v) => v !== 0)).toBe(true);
    } finally {
      await session.release();
    }
  });
});
