// Reading and writing initializer data (raw_data or the typed repeated fields) as typed arrays.
import { create } from "@bufbuild/protobuf";
import { TensorProtoSchema, type TensorProto } from "onnx-buf";
import { DT, rawByteLength } from "./dtype";
import { halfValues } from "./encoding";

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map(Number);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Splits a row-major tensor of `dims` around `axis`: outer x channels x inner elements. */
export function channelLayout(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  return { outer: elementCount(dims.slice(0, axis)), channels: dims[axis]!, inner: elementCount(dims.slice(axis + 1)) };
}

/** True when the tensor's bytes live outside the model (external data): those we cannot read. */
export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === 1 || t.externalData.length > 0;
}

/** Copies raw bytes into a fresh, aligned buffer (raw_data is a view that may be unaligned). */
function alignedCopy(raw: Uint8Array): ArrayBuffer {
  const buf = new ArrayBuffer(raw.byteLength);
  new Uint8Array(buf).set(raw);
  return buf;
}

/**
 * A tensor's raw_data when it holds the bytes, after checking it holds `count` elements of `elementBytes` each; else
 * null, after checking its typed field (`field`, holding `fieldLength` values) holds `count`.
 */
function rawOrField(t: TensorProto, elementBytes: number, field: string, fieldLength: number): Uint8Array | null {
  const count = elementCount(tensorDims(t));
  if (t.rawData.byteLength > 0) {
    if (t.rawData.byteLength !== count * elementBytes) {
      throw new RangeError(`tensor '${t.name}' raw_data holds ${t.rawData.byteLength} bytes, expected ${count * elementBytes}`);
    }
    return t.rawData;
  }
  if (fieldLength !== count) throw new RangeError(`tensor '${t.name}' ${field} holds ${fieldLength} values, expected ${count}`);
  return null;
}

/** Float32 contents of a FLOAT tensor. */
export function readFloat32(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new TypeError(`tensor '${t.name}' is not float32`);
  const raw = rawOrField(t, 4, "float_data", t.floatData.length);
  return raw ? new Float32Array(alignedCopy(raw)) : Float32Array.from(t.floatData);
}

/** Little-endian float16 bytes widened to float32 (exact). */
export function halfBytesToFloat32(raw: Uint8Array): Float32Array {
  const table = halfValues();
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(i * 2, true)]!;
  return out;
}

/** Float32 contents of a FLOAT16 tensor, widened (exact): raw_data, or the bit patterns in int32_data's low 16 bits. */
export function readFloat16(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT16) throw new TypeError(`tensor '${t.name}' is not float16`);
  const raw = rawOrField(t, 2, "int32_data", t.int32Data.length);
  if (raw) return halfBytesToFloat32(raw);
  const table = halfValues();
  return Float32Array.from(t.int32Data, (h) => table[h & 0xffff]!);
}

type RawArray = Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array | BigInt64Array;

/** Builds an initializer with raw_data (little-endian, as ONNX requires). */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: RawArray): TensorProto {
  const expected = rawByteLength(dataType, elementCount(dims));
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (expected !== undefined && expected !== bytes.byteLength) {
    throw new RangeError(`tensor '${name}': ${bytes.byteLength} bytes for dims [${dims}] of type ${dataType}`);
  }
  return create(TensorProtoSchema, {
    name,
    dataType,
    dims: dims.map((d) => BigInt(d)),
    rawData: new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
  });
}
