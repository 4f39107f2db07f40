// The engine's initializer decoding of the packed and half-precision types: raw_data and the typed field give the
// same values, pinned to hand-written bytes; a raw_data too short for its dims is an error naming the initializer.
import { create } from "@bufbuild/protobuf";
import { TensorProtoSchema } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { DT } from "@worker/onnx/dtype";
import { readConstant } from "@worker/serve/engine/values";

const tensor = (dataType: number, dims: number[], fields: { rawData?: number[]; int32Data?: number[] }) =>
  create(TensorProtoSchema, {
    name: "w",
    dataType,
    dims: dims.map(BigInt),
    rawData: Uint8Array.from(fields.rawData ?? []),
    int32Data: fields.int32Data ?? [],
  });

describe("readConstant", () => {
  it("decodes FLOAT16 from raw_data and from int32_data (bit patterns in the low 16 bits)", () => {
    // 1, -2, 65504, 2^-24 as little-endian half bits.
    const raw = readConstant(tensor(DT.FLOAT16, [4], { rawData: [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00] }));
    const typed = readConstant(tensor(DT.FLOAT16, [4], { int32Data: [0x3c00, 0xc000, 0x7bff, 0x0001] }));
    expect([...raw.data]).toEqual([1, -2, 65504, 2 ** -24]);
    expect([...typed.data]).toEqual([1, -2, 65504, 2 ** -24]);
    expect(raw.dtype).toBe(DT.FLOAT);
  });

  it("widens INT4, UINT4 and INT2 the same from raw_data and from int32_data", () => {
    for (const [dtype, bytes, n, values] of [
      [DT.INT4, [0xf1, 0x87, 0x03], 5, [1, -1, 7, -8, 3]],
      [DT.UINT4, [0xf1, 0x87], 4, [1, 15, 7, 8]],
      [DT.INT2, [0xb1, 0x02], 5, [1, 0, -1, -2, -2]],
    ] as const) {
      expect([...readConstant(tensor(dtype, [n], { rawData: [...bytes] })).data]).toEqual(values);
      expect([...readConstant(tensor(dtype, [n], { int32Data: [...bytes] })).data]).toEqual(values);
    }
  });

  it("refuses an INT4 raw_data too short for its dims, naming the initializer", () => {
    expect(() => readConstant(tensor(DT.INT4, [5], { rawData: [0xf1, 0x87] }))).toThrow(/initializer 'w' raw_data holds 2 bytes/);
  });
});
