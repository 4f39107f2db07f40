// The V2 protocol's shared words and byte layouts: datatype names, binary tensors (little-endian, BOOL one byte,
// BYTES length-prefixed), bodies of a JSON header then binary data, and every malformed case naming its tensor.
import { describe, expect, it } from "vitest";
import {
  datatypeOf,
  decodeBinaryTensor,
  elementCount,
  encodeBinaryTensor,
  joinBinaryBody,
  sliceBinaryTensors,
  splitBinaryBody,
  TensorFormatError,
  V2_DATATYPES,
} from "@formats/inference-v2.js";
import { NPY_DTYPES } from "@formats/npy.js";

describe("V2 datatypes", () => {
  it("name every element type an .npy file can hold, and back", () => {
    for (const type of NPY_DTYPES) {
      const name = datatypeOf(type);
      expect(name, type).not.toBeNull();
      expect(V2_DATATYPES[name!]!.type).toBe(type);
    }
    expect(datatypeOf("float16")).toBe("FP16");
    expect(datatypeOf("string")).toBe("BYTES");
    expect(datatypeOf("complex64")).toBeNull();
  });
});

describe("binary tensors", () => {
  it("lay values out little-endian, BOOL as one byte each", () => {
    expect(Array.from(encodeBinaryTensor("INT32", [1, -2]))).toEqual([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    expect(Array.from(encodeBinaryTensor("BOOL", [true, false, true]))).toEqual([1, 0, 1]);
    expect(Array.from(encodeBinaryTensor("INT64", [258]))).toEqual([2, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(encodeBinaryTensor("FP32", [1]))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it("write FP16 numbers as their nearest half's bits, and a Uint16Array as the bits it holds", () => {
    expect(Array.from(encodeBinaryTensor("FP16", [1, -2, 65504, 1 + 2 ** -11]))).toEqual([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x00, 0x3c]);
    expect(Array.from(encodeBinaryTensor("FP16", Uint16Array.from([0x3c00, 0x0001])))).toEqual([0x00, 0x3c, 0x01, 0x00]);
  });

  it("send a typed array of the datatype's class as its own bytes", () => {
    const data = Float32Array.from([1, 2, 3]);
    const bytes = encodeBinaryTensor("FP32", data);
    expect(bytes.buffer).toBe(data.buffer);
  });

  it("read back into typed arrays: a view when aligned, a copy when the header left the offset unaligned", () => {
    const bytes = encodeBinaryTensor("FP32", [1.5, -2, 3]);
    const aligned = decodeBinaryTensor("x", "FP32", 3, bytes);
    expect(aligned).toBeInstanceOf(Float32Array);
    expect((aligned as Float32Array).buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(13);
    shifted.set(bytes, 1);
    expect(Array.from(decodeBinaryTensor("x", "FP32", 3, shifted.subarray(1)) as Float32Array)).toEqual([1.5, -2, 3]);
    expect(Array.from(decodeBinaryTensor("ids", "INT64", 2, encodeBinaryTensor("INT64", [7, -9])) as BigInt64Array)).toEqual([7n, -9n]);
  });

  it("prefix each BYTES element with its 4-byte length, and read them back", () => {
    const bytes = encodeBinaryTensor("BYTES", ["hi", ""]);
    expect(Array.from(bytes)).toEqual([2, 0, 0, 0, 104, 105, 0, 0, 0, 0]);
    expect(decodeBinaryTensor("s", "BYTES", 2, bytes)).toEqual(["hi", ""]);
    expect(() => decodeBinaryTensor("s", "BYTES", 3, bytes)).toThrow("tensor 's': BYTES element 2 is missing its length");
    expect(() => decodeBinaryTensor("s", "BYTES", 1, bytes)).toThrow("bytes left after");
  });

  it("refuse a byte count other than shape x datatype, and unknown datatypes, naming the tensor", () => {
    expect(() => decodeBinaryTensor("x", "FP32", 4, new Uint8Array(12))).toThrow("tensor 'x': 12 bytes of binary data, but its shape and FP32 need 16");
    expect(() => decodeBinaryTensor("x", "FLOAT", 1, new Uint8Array(4))).toThrow("tensor 'x': unknown datatype 'FLOAT'");
    expect(() => decodeBinaryTensor("x", "FP32", 1, new Uint8Array(4))).not.toThrow();
  });

  it("count elements of non-negative integer shapes only", () => {
    expect(elementCount("x", [2, 3, 0])).toBe(0);
    expect(elementCount("x", [])).toBe(1);
    expect(() => elementCount("x", [2, -1])).toThrow(TensorFormatError);
    expect(() => elementCount("x", [2 ** 30, 2 ** 30])).toThrow("too large");
  });
});

describe("bodies of the binary extension", () => {
  it("join a JSON header and chunks, and split them again", () => {
    const { body, headerLength } = joinBinaryBody({ a: 1 }, [Uint8Array.from([1, 2]), Uint8Array.from([3])]);
    expect(headerLength).toBe(7);
    const { header, binary } = splitBinaryBody(body, headerLength);
    expect(header).toEqual({ a: 1 });
    expect(Array.from(binary)).toEqual([1, 2, 3]);
  });

  it("refuse a header length beyond the body, or a header that is not JSON", () => {
    expect(() => splitBinaryBody(new Uint8Array(4), 5)).toThrow("Inference-Header-Content-Length is 5 but the body has 4 bytes");
    expect(() => splitBinaryBody(new TextEncoder().encode("{x"), 2)).toThrow("not a JSON object");
    expect(() => splitBinaryBody(new Uint8Array(4), Number.NaN)).toThrow("non-negative integer");
  });

  it("slice each tensor's bytes in order, with every byte claimed and none past the end", () => {
    const binary = Uint8Array.from([1, 2, 3, 4, 5]);
    const [a, b, c] = sliceBinaryTensors(binary, [{ name: "a", size: 2 }, { name: "b", size: null }, { name: "c", size: 3 }]);
    expect(Array.from(a!)).toEqual([1, 2]);
    expect(b).toBeNull();
    expect(Array.from(c!)).toEqual([3, 4, 5]);
    expect(() => sliceBinaryTensors(binary, [{ name: "a", size: 6 }])).toThrow("tensor 'a': binary_data_size 6 runs past the body");
    expect(() => sliceBinaryTensors(binary, [{ name: "a", size: 4 }])).toThrow("1 bytes after");
    expect(() => sliceBinaryTensors(binary, [{ name: "a", size: -1 }])).toThrow("tensor 'a'");
  });
});
