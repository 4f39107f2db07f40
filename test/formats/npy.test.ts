// .npy encoding and decoding: byte-exact against files numpy 2.4 wrote, and against headers built from the v1.0 spec.
import { describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy, NpyError, npyToTensor, tensorToNpy, type NpyArray } from "@formats/npy.js";

/** Written by `np.save` (numpy 2.4.6) and base64-encoded; the arrays are given beside each. */
const NUMPY_FILES = {
  // np.arange(1, 7, dtype=np.float32).reshape(2, 3)
  float32_2x3:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQAAAQEAAAIBAAACgQAAAwEA=",
  // np.array([1, -2, 3, 4], dtype=np.int64)
  int64_4:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AwAAAAAAAAAEAAAAAAAAAA==",
  // np.array(True)
  bool_scalar:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoB",
  // np.array([[[0.5, -1.25]]])
  float64_1x1x2:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDEsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADgPwAAAAAAAPS/",
  // np.zeros(0, np.uint8)
  uint8_empty:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=",
};
const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** Header per the NPY v1.0 spec: magic, version 1.0, little-endian uint16 length, dict text padded so data starts at 64n. */
function specHeader(dict: string): Uint8Array {
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const text = dict + " ".repeat(total - unpadded) + "\n";
  const out = new Uint8Array(total);
  out.set([0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))), 0);
  out.set([1, 0, (total - 10) & 0xff, (total - 10) >> 8], 6);
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

describe("encodeNpy", () => {
  it("writes the bytes numpy.save writes", () => {
    const cases: [NpyArray, string][] = [
      [{ dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, NUMPY_FILES.float32_2x3],
      [{ dtype: "int64", shape: [4], data: new BigInt64Array([1n, -2n, 3n, 4n]) }, NUMPY_FILES.int64_4],
      [{ dtype: "bool", shape: [], data: new Uint8Array([1]) }, NUMPY_FILES.bool_scalar],
      [{ dtype: "float64", shape: [1, 1, 2], data: new Float64Array([0.5, -1.25]) }, NUMPY_FILES.float64_1x1x2],
      [{ dtype: "uint8", shape: [0], data: new Uint8Array(0) }, NUMPY_FILES.uint8_empty],
    ];
    for (const [array, expected] of cases) expect(encodeNpy(array), array.dtype).toEqual(fromBase64(expected));
  });

  it("writes a v1.0 header as the spec describes, with data aligned to 64 bytes", () => {
    const data = new Int32Array([7, -8, 9]);
    const bytes = encodeNpy({ dtype: "int32", shape: [3], data });
    // numpy leaves room for the first axis to grow to 21 digits: 20 spaces after "(3,), }".
    const header = specHeader(`{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }${" ".repeat(20)}`);
    expect(bytes.subarray(0, header.length)).toEqual(header);
    expect(header.length % 64).toBe(0);
    expect(new Int32Array(bytes.slice(header.length).buffer)).toEqual(data);
  });

  it("rejects data whose length does not match the shape", () => {
    expect(() => encodeNpy({ dtype: "float32", shape: [2, 2], data: new Float32Array(3) })).toThrow(/needs 4 values, got 3/);
  });

  it("rejects element types .npy cannot carry here", () => {
    expect(() => tensorToNpy({ type: "string", dims: [1], data: [1] })).toThrow(NpyError);
  });
});

describe("decodeNpy", () => {
  it("reads numpy's files back to their values and shapes", () => {
    expect(decodeNpy(fromBase64(NUMPY_FILES.float32_2x3))).toEqual({ dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(decodeNpy(fromBase64(NUMPY_FILES.int64_4))).toEqual({ dtype: "int64", shape: [4], data: new BigInt64Array([1n, -2n, 3n, 4n]) });
    expect(decodeNpy(fromBase64(NUMPY_FILES.bool_scalar))).toEqual({ dtype: "bool", shape: [], data: new Uint8Array([1]) });
    expect(decodeNpy(fromBase64(NUMPY_FILES.float64_1x1x2)).data).toEqual(new Float64Array([0.5, -1.25]));
    expect(decodeNpy(fromBase64(NUMPY_FILES.uint8_empty))).toEqual({ dtype: "uint8", shape: [0], data: new Uint8Array(0) });
  });

  it("reads from a Node Buffer that shares a pool with other data", () => {
    const pooled = Buffer.from(fromBase64(NUMPY_FILES.float32_2x3));
    expect(Array.from(decodeNpy(pooled).data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("round-trips every supported element type", () => {
    const arrays = [
      { dtype: "float32", shape: [2, 2], data: new Float32Array([0.1, -2, 3e8, -0]) },
      { dtype: "float64", shape: [3], data: new Float64Array([Math.PI, -1e-300, 42]) },
      { dtype: "float16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
      { dtype: "int8", shape: [2], data: new Int8Array([-128, 127]) },
      { dtype: "uint8", shape: [2], data: new Uint8Array([0, 255]) },
      { dtype: "int16", shape: [1, 2], data: new Int16Array([-32768, 32767]) },
      { dtype: "uint16", shape: [2], data: new Uint16Array([0, 65535]) },
      { dtype: "int32", shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
      { dtype: "uint32", shape: [2], data: new Uint32Array([0, 2 ** 32 - 1]) },
      { dtype: "int64", shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
      { dtype: "uint64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
      { dtype: "bool", shape: [3], data: new Uint8Array([1, 0, 1]) },
    ];
    for (const a of arrays) expect(decodeNpy(encodeNpy(a)), a.dtype).toEqual(a);
  });

  it("rejects a file without the magic string", () => {
    expect(() => decodeNpy(new TextEncoder().encode("PK\u0003\u0004 not npy"))).toThrow(/magic/);
  });

  it("rejects Fortran-order and big-endian arrays, naming the problem", () => {
    const fortran = specHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }");
    expect(() => decodeNpy(new Uint8Array([...fortran, 0, 0, 0, 0]))).toThrow(/Fortran-order/);
    const bigEndian = specHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }");
    expect(() => decodeNpy(new Uint8Array([...bigEndian, 0, 0, 0, 0]))).toThrow(/dtype '>f4' is not supported/);
  });

  it("rejects truncated data", () => {
    const bytes = fromBase64(NUMPY_FILES.float32_2x3);
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated data/);
  });
});

describe("JSON tensors", () => {
  it("convert to and from .npy arrays with the API's type names", () => {
    expect(npyToTensor({ dtype: "int64", shape: [2], data: new BigInt64Array([5n, -6n]) })).toEqual({ type: "int64", dims: [2], data: [5, -6] });
    expect(npyToTensor({ dtype: "bool", shape: [2], data: new Uint8Array([1, 0]) })).toEqual({ type: "bool", dims: [2], data: [true, false] });
    expect(tensorToNpy({ type: "float32", dims: [1, 2], data: [0.5, -1] })).toEqual({ dtype: "float32", shape: [1, 2], data: new Float32Array([0.5, -1]) });
  });

  it("carry float16 as values (an .npy holds the half bits, '<f2')", () => {
    expect(npyToTensor({ dtype: "float16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) })).toEqual({ type: "float16", dims: [3], data: [1, -2, 65504] });
    expect(tensorToNpy({ type: "float16", dims: [2], data: [1, 1 + 2 ** -11] })).toEqual({ dtype: "float16", shape: [2], data: new Uint16Array([0x3c00, 0x3c00]) });
    expect(new TextDecoder().decode(encodeNpy({ dtype: "float16", shape: [1], data: new Uint16Array([0x3c00]) }).subarray(10, 30))).toContain("'descr': '<f2'");
  });
});
