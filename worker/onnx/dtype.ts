// ONNX element types: names, byte sizes and the typed arrays that hold them.
import { TensorProto_DataType as DT } from "onnx-buf";

export { DT };

const NAMES: Record<number, string> = {
  [DT.FLOAT]: "float32", [DT.UINT8]: "uint8", [DT.INT8]: "int8", [DT.UINT16]: "uint16", [DT.INT16]: "int16",
  [DT.INT32]: "int32", [DT.INT64]: "int64", [DT.STRING]: "string", [DT.BOOL]: "bool", [DT.FLOAT16]: "float16",
  [DT.DOUBLE]: "float64", [DT.UINT32]: "uint32", [DT.UINT64]: "uint64", [DT.COMPLEX64]: "complex64",
  [DT.COMPLEX128]: "complex128", [DT.BFLOAT16]: "bfloat16", [DT.FLOAT8E4M3FN]: "float8e4m3fn",
  [DT.FLOAT8E4M3FNUZ]: "float8e4m3fnuz", [DT.FLOAT8E5M2]: "float8e5m2", [DT.FLOAT8E5M2FNUZ]: "float8e5m2fnuz",
  [DT.UINT4]: "uint4", [DT.INT4]: "int4", [DT.FLOAT4E2M1]: "float4e2m1",
  [DT.UINT2]: "uint2", [DT.INT2]: "int2",
};

/** Bits per element for fixed-size types; undefined for strings and unknown types. */
const BITS: Record<number, number> = {
  [DT.FLOAT]: 32, [DT.UINT8]: 8, [DT.INT8]: 8, [DT.UINT16]: 16, [DT.INT16]: 16, [DT.INT32]: 32, [DT.INT64]: 64,
  [DT.BOOL]: 8, [DT.FLOAT16]: 16, [DT.DOUBLE]: 64, [DT.UINT32]: 32, [DT.UINT64]: 64, [DT.COMPLEX64]: 64,
  [DT.COMPLEX128]: 128, [DT.BFLOAT16]: 16, [DT.FLOAT8E4M3FN]: 8, [DT.FLOAT8E4M3FNUZ]: 8, [DT.FLOAT8E5M2]: 8,
  [DT.FLOAT8E5M2FNUZ]: 8, [DT.UINT4]: 4, [DT.INT4]: 4, [DT.FLOAT4E2M1]: 4,
  [DT.UINT2]: 2, [DT.INT2]: 2,
};

export function dtypeName(t: number): string {
  return NAMES[t] ?? `type${t}`;
}

export function dtypeBits(t: number): number | undefined {
  return BITS[t];
}

/** Bytes of raw_data a tensor of this type and element count must hold. */
export function rawByteLength(t: number, count: number): number | undefined {
  const bits = BITS[t];
  return bits === undefined ? undefined : Math.ceil((count * bits) / 8);
}
