// Compression in bounded memory (worker/compress/bounded.ts): a model read as its skeleton, one weight at a time, makes
// byte for byte the variant compressModel makes of the whole model, on every model of the small zoo and every weight-only
// recipe; it reads each weight once, by its own range, and never more than one weight at a time; what it encodes goes
// out of memory (the spills) as it goes; float16 weights too. Recipes that need the whole model, and weights over the
// per-weight bound, are refused with 413.
import { beforeAll, describe, expect, it } from "vitest";
import { compressBounded, BoundedRecipeError, MAX_BOUNDED_WEIGHT_BYTES, type BoundedIo } from "@worker/compress/bounded";
import { compressModel, NothingToCompressError } from "@worker/compress/pipeline";
import { RecipeSchema, type Recipe } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { LimitError } from "@worker/onnx/limits";
import { writeSegments } from "@worker/onnx/segments";
import { bytesSource, readSkeleton, SKELETON_LOCATION } from "@worker/onnx/skeleton";
import { mlpModel } from "@test/support/models";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { toHalf } from "@formats/half.js";
import { uniform } from "@test/support/numbers";
import { zooModels, type ZooModel } from "@test/support/zoo";

const RECIPES: Record<string, unknown> = {
  int8: { quantize: { bits: 8 } },
  "int8 per-tensor asymmetric": { quantize: { bits: 8, granularity: "per-tensor", symmetric: false } },
  int4: { quantize: { bits: 4 } },
  fp16: { quantize: { bits: 16 } },
  "2-bit": { quantize: { bits: 2 } },
  "1-bit": { quantize: { bits: 1 } },
  "codebook 4": { quantize: { codebook: { bits: 4 } } },
  "mixed 8/4 with an exclusion": { quantize: { bits: 8, overrides: {}, exclude: ["Gather"] } },
};

/** A bounded run over in-memory bytes, with what it read and spilled. */
async function runBounded(bytes: Uint8Array, recipe: Recipe) {
  const reads: { offset: number; length: number }[] = [];
  const spills = new Map<string, Uint8Array>();
  const original = bytesSource(bytes);
  const io: BoundedIo = {
    original: { size: original.size, read: (offset, length) => (reads.push({ offset, length }), original.read(offset, length)) },
    spill: async (b) => {
      const location = `spill/${spills.size}`;
      spills.set(location, b.slice());
      return location;
    },
  };
  const skeleton = decodeModel((await readSkeleton(original)).bytes);
  const result = await compressBounded(skeleton, recipe, io, bytes.byteLength);
  const chunks: Uint8Array[] = [];
  await writeSegments(result.encoded, (location) => (location === SKELETON_LOCATION ? original : spills.has(location) ? bytesSource(spills.get(location)!) : undefined), async (b) => {
    chunks.push(b.slice());
  });
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return { result, bytes: out, reads, spills };
}

describe("bounded compression of the zoo's models", () => {
  let zoo: ZooModel[];
  beforeAll(async () => {
    zoo = await zooModels();
  }, 600_000);

  it("makes the bytes compressModel makes of the whole model, for every weight-only recipe", async () => {
    expect(zoo.length).toBeGreaterThanOrEqual(8);
    let compared = 0;
    for (const m of zoo) {
      for (const [label, raw] of Object.entries(RECIPES)) {
        const recipe = RecipeSchema.parse(raw);
        let want: Uint8Array | Error;
        try {
          want = compressModel(decodeModel(m.bytes), recipe, undefined, m.bytes.byteLength).bytes;
        } catch (err) {
          want = err as Error;
        }
        if (want instanceof Error) {
          await expect(runBounded(m.bytes, recipe), `${m.name} ${label}`).rejects.toBeInstanceOf(want.constructor);
          continue;
        }
        const got = await runBounded(m.bytes, recipe);
        expect(got.bytes.byteLength, `${m.name} ${label}`).toBe(want.byteLength);
        expect(Buffer.from(got.bytes).equals(Buffer.from(want)), `${m.name} ${label}`).toBe(true);
        expect(got.result.encoded.size).toBe(want.byteLength);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(zoo.length * 5);
  }, 600_000);
});

describe("what bounded compression holds", () => {
  // Eight 4 MiB layers: each weight read once by its own range, each encoding spilled before the next weight is read.
  const bytes = encodeModel(mlpModel([1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024]));

  it("reads each weight once by its range and spills each encoding", async () => {
    const { reads, spills, result } = await runBounded(bytes, RecipeSchema.parse({ quantize: { bits: 8 } }));
    const weightReads = reads.filter((r) => r.length === 1024 * 1024 * 4);
    expect(weightReads).toHaveLength(8);
    expect(new Set(weightReads.map((r) => r.offset)).size).toBe(8);
    // Apart from the weights, the structure is read through windows of at most 1 MiB.
    expect(reads.filter((r) => r.length !== 1024 * 1024 * 4).every((r) => r.length <= 1024 * 1024)).toBe(true);
    // The int8 weights (1 MiB each) went to spills; the variant's skeleton holds none of them.
    expect([...spills.values()].filter((s) => s.byteLength === 1024 * 1024)).toHaveLength(8);
    expect(encodeModel(result.model).byteLength).toBeLessThan(64 * 1024);
    expect(result.tensors).toHaveLength(8);
  });

  it("refuses recipes that need the whole model with 413, naming why", async () => {
    for (const raw of [
      { prune: { sparsity: 0.5 }, quantize: { bits: 8 } },
      { quantize: { bits: 8, scheme: "dynamic" } },
      { quantize: { bits: 8, equalize: true } },
      { quantize: { bits: 8, scheme: "static", calibration: { dataset: "0123456789abcdef01234567" } } },
      { quantize: { bits: 4, rounding: { method: "gptq" }, calibration: { dataset: "0123456789abcdef01234567" } } },
      { quantize: { bits: 4, scale: "mse" } },
    ]) {
      const err = await runBounded(bytes, RecipeSchema.parse(raw)).catch((e: unknown) => e);
      expect(err, JSON.stringify(raw)).toBeInstanceOf(BoundedRecipeError);
      expect((err as BoundedRecipeError).code).toBe("payload_too_large");
      expect((err as Error).message).toMatch(/one weight at a time/);
    }
  });

  it("refuses a weight over MAX_BOUNDED_WEIGHT_BYTES (413 naming it), and takes the model with that layer excluded", async () => {
    const wide = MAX_BOUNDED_WEIGHT_BYTES / 4 / 1024 + 16;
    const model = encodeModel(mlpModel([1024, wide, 8]));
    const err = await runBounded(model, RecipeSchema.parse({ quantize: { bits: 8 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as Error).message).toMatch(/MAX_BOUNDED_WEIGHT_BYTES/);
    const layers = decodeModel(model).graph!.node.filter((n) => n.opType === "Gemm" || n.opType === "MatMul").map((n) => n.name);
    const excluded = await runBounded(model, RecipeSchema.parse({ quantize: { bits: 8, exclude: [layers[0]!] } }));
    expect(excluded.result.tensors.map((t) => t.node)).toEqual([layers[1]]);
  }, 120_000);

  it("a model with nothing to quantize: NothingToCompressError, as in memory", async () => {
    const tiny = encodeModel(mlpModel([4, 3]));
    await expect(runBounded(tiny, RecipeSchema.parse({ quantize: { bits: 8 } }))).rejects.toBeInstanceOf(NothingToCompressError);
  });
});

describe("a model in half precision", () => {
  // x [N, 256] float16 -> MatMul(W [256, 256]) -> Relu -> MatMul(V [256, 64]) -> y: both weights left in the file by the
  // skeleton (over 4 KiB each), read as float16 bytes by their ranges.
  const half = (name: string, dims: number[], seed: number) => makeTensor(name, DT.FLOAT16, dims, Uint16Array.from(uniform(dims[0]! * dims[1]!, seed, 0.1), toHalf));
  const bytes = encodeModel(
    makeModel(
      makeGraph(
        [makeNode("MatMul", ["x", "W"], ["h"], "fc1"), makeNode("Relu", ["h"], ["r"], "relu"), makeNode("MatMul", ["r", "V"], ["y"], "fc2")],
        "half",
        [makeValueInfo("x", DT.FLOAT16, ["N", 256])],
        [makeValueInfo("y", DT.FLOAT16, ["N", 64])],
        [half("W", [256, 256], 1), half("V", [256, 64], 2)],
      ),
      { "": 13 },
    ),
  );

  it.each(["int8", "int4"])("%s: the bytes compressModel makes of the whole model, each weight read once as 2 bytes an element", async (label) => {
    const recipe = RecipeSchema.parse(RECIPES[label]);
    const want = compressModel(decodeModel(bytes), recipe, undefined, bytes.byteLength).bytes;
    const got = await runBounded(bytes, recipe);
    expect(Buffer.from(got.bytes).equals(Buffer.from(want))).toBe(true);
    expect(got.reads.filter((r) => r.length === 256 * 256 * 2 || r.length === 256 * 64 * 2)).toHaveLength(2);
    expect(got.result.tensors.map((t) => t.name)).toEqual(["W", "V"]);
  });
});
