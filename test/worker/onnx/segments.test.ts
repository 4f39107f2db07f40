// Writing a model whose tensors are external data as the standalone model (worker/onnx/segments.ts): a skeleton written
// back copying each tensor from the original is the original file, byte for byte, for every model of the small zoo;
// the sizes are known before a byte is copied; a location without a source, or a source short of bytes, is an error.
import { beforeAll, describe, expect, it } from "vitest";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { externalRange, makeExternal, segmentModel, writeSegments, type SegmentedModel } from "@worker/onnx/segments";
import { bytesSource, readSkeleton, SKELETON_LOCATION, type ByteSource } from "@worker/onnx/skeleton";
import { mlpModel } from "@test/support/models";
import { zooModels, type ZooModel } from "@test/support/zoo";

async function written(model: SegmentedModel, sources: (location: string) => ByteSource | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await writeSegments(model, sources, async (b) => {
    chunks.push(b.slice());
  });
  return Buffer.concat(chunks);
}

describe("a skeleton written back", () => {
  let zoo: ZooModel[];
  beforeAll(async () => {
    zoo = await zooModels();
  }, 600_000);

  it("is the original file, byte for byte, with its size known before copying", async () => {
    expect(zoo.length).toBeGreaterThanOrEqual(8);
    for (const m of zoo) {
      const skeleton = decodeModel((await readSkeleton(bytesSource(m.bytes))).bytes);
      const segmented = segmentModel(skeleton);
      expect(segmented.size, m.name).toBe(m.bytes.byteLength);
      // Copies are most of the bytes: the literal parts are the structure.
      const literal = segmented.segments.reduce((n, s) => n + (s instanceof Uint8Array ? s.byteLength : 0), 0);
      expect(literal, m.name).toBeLessThan(m.bytes.byteLength / 2);
      const out = await written(segmented, (l) => (l === SKELETON_LOCATION ? bytesSource(m.bytes) : undefined));
      expect(out.equals(Buffer.from(m.bytes)), m.name).toBe(true);
    }
  });
});

describe("tensors made external by hand", () => {
  const model = mlpModel([64, 300, 10]);
  const whole = encodeModel(model);

  it("write the model they came from, reading each from its own location", async () => {
    const copy = decodeModel(whole);
    const stores = new Map<string, Uint8Array>();
    for (const t of copy.graph!.initializer) {
      const location = `t${stores.size}`;
      stores.set(location, t.rawData.slice());
      makeExternal(t, { location, offset: 0, length: t.rawData.byteLength });
      expect(externalRange(t)).toEqual({ location, offset: 0, length: stores.get(location)!.byteLength });
    }
    const out = await written(segmentModel(copy), (l) => (stores.has(l) ? bytesSource(stores.get(l)!) : undefined));
    expect(out.equals(Buffer.from(whole))).toBe(true);
  });

  it("a location with no source, or a source short of bytes, is an error", async () => {
    const copy = decodeModel(whole);
    const t = copy.graph!.initializer[0]!;
    const length = t.rawData.byteLength;
    makeExternal(t, { location: "gone", offset: 0, length });
    await expect(written(segmentModel(copy), () => undefined)).rejects.toThrow(/no source for external data location 'gone'/);
    const short: ByteSource = { size: length, read: async (_o, n) => new Uint8Array(n - 1) };
    await expect(written(segmentModel(copy), () => short)).rejects.toThrow(/expected/);
  });
});
