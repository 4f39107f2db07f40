import { describe, expect, it } from "vitest";
import { bindInputs, DatasetFormatError, parseDataset, parseNpy, sliceBatch } from "@worker/datasets/dataset";
import { npy, npz } from "@test/support/npz";

const LIMIT = 1 << 20;

describe("parseNpy", () => {
  it("reads float32 data and shape from a v1 header", () => {
    const a = parseNpy(npy("<f4", [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)), "x");
    expect(a).toMatchObject({ dtype: "float32", shape: [2, 3] });
    expect(Array.from(a.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("rejects Fortran-order arrays, naming the fix", () => {
    expect(() => parseNpy(npy("<f4", [2, 2], new Float32Array(4), { fortran: true }), "x")).toThrow(/Fortran-order.*ascontiguousarray/);
  });

  it("rejects big-endian and float16 dtypes", () => {
    expect(() => parseNpy(npy(">f4", [1], new Float32Array(1)), "x")).toThrow(/dtype '>f4' is not supported/);
    expect(() => parseNpy(npy("<f2", [2], new Uint16Array(2)), "x")).toThrow(/dtype '<f2'/);
  });

  it("rejects data shorter than the shape needs", () => {
    expect(() => parseNpy(npy("<f4", [4], new Float32Array(3)), "x")).toThrow(/needs 16 data bytes, found 12/);
  });
});

describe("parseDataset", () => {
  for (const compress of [false, true]) {
    it(`reads a ${compress ? "deflated" : "stored"} .npz with inputs and int64 labels`, async () => {
      const bytes = await npz(
        {
          input: npy("<f4", [3, 2], Float32Array.of(0.5, 1, 1.5, 2, 2.5, 3)),
          labels: npy("<i8", [3], BigInt64Array.of(0n, 2n, 1n)),
        },
        { compress },
      );
      const d = await parseDataset(bytes, LIMIT);
      expect(d).toMatchObject({ format: "npz", samples: 3 });
      expect(Array.from(d.inputs.get("input")!.data as Float32Array)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
      expect(Array.from(d.labels!.data as BigInt64Array, Number)).toEqual([0, 2, 1]);
    });
  }

  it("rejects arrays whose sample counts differ", async () => {
    const bytes = await npz({ a: npy("<f4", [3, 1], new Float32Array(3)), b: npy("<f4", [2, 1], new Float32Array(2)) });
    await expect(parseDataset(bytes, LIMIT)).rejects.toThrow(/has 2 samples but another array has 3/);
  });

  it("rejects labels of the wrong length", async () => {
    const bytes = await npz({ input: npy("<f4", [3, 1], new Float32Array(3)), labels: npy("<i8", [2], new BigInt64Array(2)) });
    await expect(parseDataset(bytes, LIMIT)).rejects.toThrow(/'labels' must have shape \(3,\)/);
  });

  it("rejects an archive over the decompressed limit before inflating it", async () => {
    const bytes = await npz({ input: npy("<f4", [1024, 64], new Float32Array(1024 * 64)) }, { compress: true });
    await expect(parseDataset(bytes, 1000)).rejects.toThrow(DatasetFormatError);
  });

  it("rejects bytes that are neither .npy nor .npz", async () => {
    await expect(parseDataset(new TextEncoder().encode("hello"), LIMIT)).rejects.toThrow(/expected a \.npy or \.npz/);
  });
});

describe("bindInputs and sliceBatch", () => {
  const sig = [{ name: "x", type: "float32", shape: ["N", 2] as (string | number | null)[] }];

  it("binds a .npy's one array to a one-input model and converts float64 to float32 batches", async () => {
    const d = await parseDataset(npy("<f8", [3, 2], Float64Array.of(1, 2, 3, 4, 5, 6)), LIMIT);
    const bound = bindInputs(d, sig);
    const batch = sliceBatch(bound, sig, 1, 3);
    expect(batch.x!.dims).toEqual([2, 2]);
    expect(batch.x!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(batch.x!.data as Float32Array)).toEqual([3, 4, 5, 6]);
  });

  it("feeds a half-precision model's input the nearest halves' bits", async () => {
    const half = [{ name: "x", type: "float16", shape: ["N", 2] as (string | number | null)[] }];
    const d = await parseDataset(npy("<f4", [2, 2], Float32Array.of(1, -2, 65504, 1 + 2 ** -11)), LIMIT);
    const batch = sliceBatch(bindInputs(d, half), half, 0, 2);
    expect(batch.x).toEqual({ type: "float16", dims: [2, 2], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x3c00) });
  });

  it("names the model input and the array when shapes disagree", async () => {
    const d = await parseDataset(npy("<f4", [3, 5], new Float32Array(15)), LIMIT);
    expect(() => bindInputs(d, sig)).toThrow(/model input 'x' dim 1 must be 2, its array has 5/);
  });
});
