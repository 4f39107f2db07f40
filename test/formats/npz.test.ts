// .npz writing for dataset uploads: a zip the API's own .npz reader (and np.load) accepts, with correct CRCs.
import { crc32 as zlibCrc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { encodeNpy } from "@formats/npy.js";
import { crc32, decodeNpz, encodeNpz, encodeNpzDeflated } from "@formats/npz.js";
import { parseDataset } from "@worker/datasets/dataset";
import { hostileNpz } from "@test/support/npz";

const x = encodeNpy({ dtype: "float32", shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
const labels = encodeNpy({ dtype: "int64", shape: [3], data: BigInt64Array.from([0n, 1n, 1n]) });

describe("crc32", () => {
  it("gives the standard check value and agrees with node:zlib", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(x)).toBe(zlibCrc32(x));
    expect(crc32(labels)).toBe(zlibCrc32(labels));
  });
});

describe("encodeNpz", () => {
  it("writes a zip the API's .npz reader reads back array for array", async () => {
    const arrays = await decodeNpz(encodeNpz({ input: x, labels }), { maxBytes: 1 << 20 });
    expect([...arrays.keys()]).toEqual(["input", "labels"]);
    expect(arrays.get("input")).toMatchObject({ dtype: "float32", shape: [3, 2] });
    expect(Array.from(arrays.get("input")!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(arrays.get("labels")!.data as BigInt64Array)).toEqual([0n, 1n, 1n]);
  });

  it("makes a dataset with inputs and labels", async () => {
    const d = await parseDataset(encodeNpz({ input: x, labels }), 1 << 20);
    expect(d.format).toBe("npz");
    expect(d.samples).toBe(3);
    expect([...d.inputs.keys()]).toEqual(["input"]);
    expect(d.labels?.shape).toEqual([3]);
  });

  it("stores each .npy unchanged after its local header, with sizes and CRC in both headers", () => {
    const zip = encodeNpz({ input: x });
    const view = new DataView(zip.buffer);
    expect(view.getUint32(0, true)).toBe(0x04034b50);
    expect(view.getUint16(8, true)).toBe(0); // stored
    expect(view.getUint32(14, true)).toBe(zlibCrc32(x));
    expect(view.getUint32(18, true)).toBe(x.byteLength);
    const start = 30 + "input.npy".length;
    expect(zip.subarray(start, start + x.byteLength)).toEqual(x);
    const central = start + x.byteLength;
    expect(view.getUint32(central, true)).toBe(0x02014b50);
    expect(view.getUint32(central + 16, true)).toBe(zlibCrc32(x));
    expect(view.getUint32(zip.byteLength - 22, true)).toBe(0x06054b50);
    expect(view.getUint16(zip.byteLength - 12, true)).toBe(1); // entries
  });

  it("is deterministic, so the same arrays upload as the same dataset id", () => {
    expect(encodeNpz({ input: x, labels })).toEqual(encodeNpz({ input: x, labels }));
  });

  it("refuses a name that is not a plain file name", () => {
    expect(() => encodeNpz({ "../x": x })).toThrow(/array name '..\/x'/);
  });
});

describe("decodeNpz on hostile archives", () => {
  const limit = { maxBytes: 1 << 20 };

  it("refuses a stored entry declaring fewer bytes than it holds", async () => {
    await expect(decodeNpz(hostileNpz.storedDeclaringZero(), limit)).rejects.toThrow(/stored entry 'input.npy' declares 0 bytes but holds 384/);
  });

  it("refuses central entries that share one local entry", async () => {
    await expect(decodeNpz(hostileNpz.sharedLocalEntry(50), limit)).rejects.toThrow(/entries 'a\d\d.npy' and 'a\d\d.npy' share one local entry/);
  });

  it("refuses a name that appears twice", async () => {
    const zip = encodeNpz({ aa: x, ab: x });
    const central = new DataView(zip.buffer).getUint32(zip.byteLength - 22 + 16, true);
    const second = central + 46 + "aa.npy".length;
    zip[second + 46 + 1] = "a".charCodeAt(0); // 'ab.npy' becomes 'aa.npy'
    await expect(decodeNpz(zip, limit)).rejects.toThrow(/entry 'aa.npy' appears twice/);
  });

  it("refuses a truncated zip64 extra field with a message, not a range error", async () => {
    const err = await decodeNpz(hostileNpz.truncatedZip64Extra(), limit).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("NpyError");
    expect((err as Error).message).toBe("not a valid .npz: entry 'input.npy' has a truncated zip64 extra field");
  });

  it("stops inflating a deflate bomb and refuses it", async () => {
    await expect(decodeNpz(await hostileNpz.deflateBomb(8 << 20), limit)).rejects.toThrow(/entry 'input.npy' inflates (beyond its declared size|past the limit)/);
  });

  it("every hostile archive is an invalid dataset (400), not a crash", async () => {
    for (const zip of [hostileNpz.storedDeclaringZero(), hostileNpz.sharedLocalEntry(), hostileNpz.truncatedZip64Extra(), await hostileNpz.deflateBomb(8 << 20)]) {
      await expect(parseDataset(zip, 1 << 20)).rejects.toMatchObject({ code: "invalid_dataset" });
    }
  });

  it("still reads numpy's zip64 local headers and deflated entries", async () => {
    const arrays = await decodeNpz(await encodeNpzDeflated({ input: x }, { zip64: true }), limit);
    expect(arrays.get("input")).toMatchObject({ dtype: "float32", shape: [3, 2] });
  });
});
