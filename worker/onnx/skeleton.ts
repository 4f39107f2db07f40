// A model's skeleton: its graph structure read from ranged reads, with every large tensor's bytes left where they are.
// The skeleton is standard ONNX: each weight it leaves out becomes external data (location SKELETON_LOCATION, offset and
// length in the original object), so the original object is its own external-data file. Reading a 300 MB model this way
// holds its nodes, attributes and tensor metadata, never its weights.
import { clearField } from "@bufbuild/protobuf";
import { TensorProtoSchema, type TensorProto } from "onnx-buf";
import { DT } from "./dtype";
import { LimitError, MAX_SUBGRAPH_DEPTH } from "./limits";
import { OnnxDecodeError } from "./codec";

/** Reads `length` bytes at `offset` of an object of known size (an R2 object by range, or bytes in memory). */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** The external-data location a skeleton's tensors name: the model's own object. */
export const SKELETON_LOCATION = "model.onnx";

/** raw_data at least this long is left in the object (smaller tensors, shapes and scalars, stay inline). */
export const HOLLOW_TENSOR_BYTES = 4096;

/**
 * The most bytes a skeleton may keep: structure and small tensors. A 6-layer encoder's skeleton is a few KB; 16 MiB
 * bounds what validation decodes in one request whatever the model's size.
 */
export const MAX_SKELETON_BYTES = 16 * 1024 * 1024;

/** Bytes fetched per ranged read while walking the structure. */
const WINDOW_BYTES = 1024 * 1024;

export interface Skeleton {
  /** ModelProto bytes whose large tensors are external data pointing into the original object. */
  bytes: Uint8Array;
  /** Tensors left in the object, and their bytes. */
  hollowed: number;
  hollowedBytes: number;
}

// The message types whose fields lead to tensors, by field number (onnx.proto); every other field is copied as is.
type Kind = "model" | "graph" | "function" | "node" | "attribute" | "sparse" | "tensor";
const CHILDREN: Record<Kind, Record<number, Kind>> = {
  model: { 7: "graph", 25: "function" },
  graph: { 1: "node", 5: "tensor", 15: "sparse" },
  function: { 7: "node" },
  node: { 5: "attribute" },
  attribute: { 5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse" },
  // Sparse tensors stay whole: validation reads their indices.
  sparse: {},
  tensor: {},
};
const TENSOR_DATA_TYPE = 2;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
/** Index-like element types stay inline: shape arithmetic and validation read them. */
const INLINE_TYPES = new Set<number>([DT.INT64, DT.INT32, DT.STRING]);

/** Walks the wire format of the source within a sliding window of bytes. */
class WindowReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  pos = 0;

  constructor(private readonly source: ByteSource) {}

  /** Makes at least min(n, end - pos) bytes at pos readable without awaiting. */
  async ensure(n: number, end: number): Promise<void> {
    const want = Math.min(n, end - this.pos);
    if (this.pos >= this.windowStart && this.pos + want <= this.windowStart + this.window.byteLength) return;
    const length = Math.min(Math.max(want, WINDOW_BYTES), this.source.size - this.pos);
    if (length < want) throw truncated();
    this.window = await this.source.read(this.pos, length);
    this.windowStart = this.pos;
  }

  byte(): number {
    const i = this.pos - this.windowStart;
    if (i >= this.window.byteLength) throw truncated();
    this.pos++;
    return this.window[i]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new OnnxDecodeError("not a decodable ONNX ModelProto: a varint longer than 10 bytes");
  }

  /** The bytes from `start` to pos, which must lie in the window. */
  since(start: number): Uint8Array {
    return this.window.slice(start - this.windowStart, this.pos - this.windowStart);
  }

  async take(length: number): Promise<Uint8Array> {
    if (length <= WINDOW_BYTES) {
      await this.ensure(length, this.pos + length);
      const i = this.pos - this.windowStart;
      this.pos += length;
      return this.window.slice(i, i + length);
    }
    const bytes = await this.source.read(this.pos, length);
    this.pos += length;
    return bytes;
  }
}

const truncated = () => new OnnxDecodeError("not a decodable ONNX ModelProto: a field runs past the end of the bytes");

/** A protobuf varint's bytes (values up to 2^53). */
export function varintBytes(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Uint8Array.from(out);
}

const encoder = new TextEncoder();

/** A length-delimited field: tag, length, payload. */
function lengthDelimited(field: number, payload: Uint8Array): Uint8Array[] {
  return [varintBytes((field << 3) | 2), varintBytes(payload.byteLength), payload];
}

/** TensorProto.external_data entries and data_location EXTERNAL for bytes at [offset, offset + length). */
function externalFields(offset: number, length: number): Uint8Array[] {
  const entry = (key: string, value: string) =>
    concat([...lengthDelimited(1, encoder.encode(key)), ...lengthDelimited(2, encoder.encode(value))]);
  return [
    ...lengthDelimited(TENSOR_EXTERNAL_DATA, entry("location", SKELETON_LOCATION)),
    ...lengthDelimited(TENSOR_EXTERNAL_DATA, entry("offset", String(offset))),
    ...lengthDelimited(TENSOR_EXTERNAL_DATA, entry("length", String(length))),
    varintBytes((TENSOR_DATA_LOCATION << 3) | 0),
    varintBytes(1),
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Refuses a tensor whose own external data (a StringStringEntryProto: key 1, value 2) names SKELETON_LOCATION: in a
 * skeleton that name means the model's own object, and a model may not point its tensors into its own bytes.
 */
function checkOwnLocation(entry: Uint8Array): void {
  const fields = new Map<number, string>();
  for (let pos = 0; pos < entry.byteLength; ) {
    const tag = entry[pos++]!;
    if ((tag & 7) !== 2 || pos >= entry.byteLength || entry[pos]! >= 0x80) return; // not the plain entry written by onnx
    const length = entry[pos++]!;
    fields.set(tag >> 3, new TextDecoder().decode(entry.subarray(pos, pos + length)));
    pos += length;
  }
  if (fields.get(1) === "location" && fields.get(2) === SKELETON_LOCATION) {
    throw new OnnxDecodeError(`a tensor names external data '${SKELETON_LOCATION}', the model's own file: save its data under another name`);
  }
}

/**
 * Reads the model's structure from `source` and returns its skeleton. Throws OnnxDecodeError (400) for bytes that are
 * not a ModelProto, LimitError (413) for a structure over MAX_SKELETON_BYTES or subgraphs nested too deep.
 */
export async function readSkeleton(source: ByteSource): Promise<Skeleton> {
  if (source.size === 0) throw new OnnxDecodeError("empty body: expected ONNX ModelProto bytes");
  const reader = new WindowReader(source);
  const state = { kept: 0, hollowed: 0, hollowedBytes: 0 };
  // Counted before the bytes are read, so that no field over the bound is ever fetched.
  const keep = (n: number) => {
    state.kept += n;
    if (state.kept > MAX_SKELETON_BYTES) {
      throw new LimitError(`the model's structure and small tensors exceed ${MAX_SKELETON_BYTES} bytes (MAX_SKELETON_BYTES)`);
    }
  };

  const walk = async (kind: Kind, end: number, depth: number): Promise<Uint8Array> => {
    if (depth > 2 * MAX_SUBGRAPH_DEPTH + 4) {
      throw new LimitError(`subgraphs nest deeper than ${MAX_SUBGRAPH_DEPTH} levels (MAX_SUBGRAPH_DEPTH)`);
    }
    const parts: Uint8Array[] = [];
    let hollow: { offset: number; length: number } | undefined;
    let dataType = 0;
    while (reader.pos < end) {
      await reader.ensure(20, end);
      const start = reader.pos;
      const tag = reader.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new OnnxDecodeError("not a decodable ONNX ModelProto: field number 0");
      if (wire === 0) {
        const value = reader.varint();
        if (kind === "tensor" && field === TENSOR_DATA_TYPE) dataType = value;
        parts.push(reader.since(start));
        keep(reader.pos - start);
      } else if (wire === 1 || wire === 5) {
        const n = wire === 1 ? 8 : 4;
        const header = reader.since(start);
        keep(header.byteLength + n);
        parts.push(header, await reader.take(n));
      } else if (wire === 2) {
        const length = reader.varint();
        const header = reader.since(start);
        const payloadEnd = reader.pos + length;
        if (payloadEnd > end) throw truncated();
        const child = CHILDREN[kind][field];
        if (child) {
          const body = await walk(child, payloadEnd, depth + 1);
          parts.push(...lengthDelimited(field, body));
        } else if (kind === "tensor" && field === TENSOR_RAW_DATA && length >= HOLLOW_TENSOR_BYTES) {
          hollow = { offset: reader.pos, length };
          reader.pos = payloadEnd;
        } else {
          keep(header.byteLength + length);
          const payload = await reader.take(length);
          if (kind === "tensor" && field === TENSOR_EXTERNAL_DATA) checkOwnLocation(payload);
          parts.push(header, payload);
        }
      } else {
        throw new OnnxDecodeError(`not a decodable ONNX ModelProto: wire type ${wire} (groups are not used by ONNX)`);
      }
      if (reader.pos > end) throw truncated();
    }
    if (hollow) {
      if (INLINE_TYPES.has(dataType)) {
        keep(hollow.length);
        parts.push(...lengthDelimited(TENSOR_RAW_DATA, await source.read(hollow.offset, hollow.length)));
      } else {
        parts.push(...externalFields(hollow.offset, hollow.length));
        state.hollowed++;
        state.hollowedBytes += hollow.length;
      }
    }
    return concat(parts);
  };

  const bytes = await walk("model", source.size, 0);
  return { bytes, hollowed: state.hollowed, hollowedBytes: state.hollowedBytes };
}

// The wire types onnx.proto gives each field of the messages a prefix is checked against (0 varint, 2 length-delimited):
// junk is refused where it names a field these messages do not have, or one of theirs with the wrong wire type.
const LEN = 1 << 2;
const VARINT = 1 << 0;
const KNOWN_FIELDS: Partial<Record<Kind, Record<number, number>>> = {
  model: { 1: VARINT, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: LEN, 7: LEN, 8: LEN, 14: LEN, 20: LEN, 25: LEN, 26: LEN },
  graph: { 1: LEN, 2: LEN, 5: LEN, 10: LEN, 11: LEN, 12: LEN, 13: LEN, 14: LEN, 15: LEN, 16: LEN },
  node: { 1: LEN, 2: LEN, 3: LEN, 4: LEN, 5: LEN, 6: LEN, 7: LEN, 8: LEN, 9: LEN, 10: LEN },
};

/**
 * Checks that `prefix`, the first bytes of a body still arriving, can begin a ModelProto: every field it holds in full
 * or in part has a field number and wire type protobuf allows (the model's, graph's and node's own fields only, with
 * their wire types), and the fields of messages that lead to tensors are walked into as far as the prefix goes. Throws OnnxDecodeError naming the first problem:
 * bytes that are not ONNX are refused within their first part, before anything is staged.
 */
export function checkModelPrefix(prefix: Uint8Array): void {
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= prefix.byteLength) return undefined;
      const b = prefix[pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new OnnxDecodeError("not a decodable ONNX ModelProto: a varint longer than 10 bytes");
  };
  // Returns false once the prefix runs out (the rest is still to come).
  const walk = (kind: Kind, end: number): boolean => {
    while (pos < end) {
      const tag = varint();
      if (tag === undefined) return false;
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new OnnxDecodeError("not a decodable ONNX ModelProto: field number 0");
      const known = KNOWN_FIELDS[kind];
      if (known && ((known[field] ?? 0) & (1 << wire)) === 0) {
        throw new OnnxDecodeError(`not a decodable ONNX ModelProto: field ${field} (wire type ${wire}) is not one of the ${kind}'s`);
      }
      if (wire === 0) {
        if (varint() === undefined) return false;
      } else if (wire === 1 || wire === 5) {
        pos += wire === 1 ? 8 : 4;
      } else if (wire === 2) {
        const length = varint();
        if (length === undefined) return false;
        const child = CHILDREN[kind][field];
        if (child) {
          if (!walk(child, pos + length)) return false;
        } else pos += length;
      } else {
        throw new OnnxDecodeError(`not a decodable ONNX ModelProto: wire type ${wire} (groups are not used by ONNX)`);
      }
      if (pos > prefix.byteLength) return false;
    }
    if (pos > end) throw truncated();
    return true;
  };
  walk("model", Number.POSITIVE_INFINITY);
}

/** Where a skeleton tensor's bytes lie in the original object, or undefined for a tensor held inline. */
export function skeletonRange(t: TensorProto): { offset: number; length: number } | undefined {
  if (t.dataLocation !== 1) return undefined;
  const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
  if (entry("location") !== SKELETON_LOCATION) return undefined;
  const offset = Number(entry("offset"));
  const length = Number(entry("length"));
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) return undefined;
  return { offset, length };
}

/** Reads a skeleton tensor's bytes back from the original object into raw_data (one tensor at a time). */
export async function loadTensorData(t: TensorProto, source: ByteSource): Promise<void> {
  const range = skeletonRange(t);
  if (!range) return;
  t.rawData = new Uint8Array(await source.read(range.offset, range.length));
  t.externalData = [];
  clearField(t, TensorProtoSchema.field.dataLocation); // unset, as it was before the skeleton set it (proto2 presence)
}

/** A ByteSource over bytes in memory (tests, and models small enough to hold). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => {
      if (offset < 0 || offset + length > bytes.byteLength) throw truncated();
      return bytes.subarray(offset, offset + length);
    },
  };
}
