// A model whose large tensors are external data, written as the standalone ModelProto it stands for without holding it:
// the encoding is a list of segments, literal protobuf bytes and ranges to copy from the objects the tensors name, with
// every length prefix computed first. The bytes are those protobuf-es writes for the same model with each tensor's
// raw_data inline (fields in number order, unknown fields last), so a variant built from a skeleton is byte for byte the
// one built in memory.
import { clearField, clone, create, isFieldSet, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProtoSchema, type ModelProto, type TensorProto } from "onnx-buf";
import { varintBytes, type ByteSource } from "./skeleton";

/** Bytes to copy from the object an external tensor names. */
export interface CopyRange {
  location: string;
  offset: number;
  length: number;
}
export type Segment = Uint8Array | CopyRange;

export interface SegmentedModel {
  segments: Segment[];
  /** Bytes of the whole encoding. */
  size: number;
}

const TENSOR_RAW_DATA = 9;

/** Where an external tensor's bytes lie (location, offset, length), or undefined for a tensor held inline. */
export function externalRange(t: TensorProto): CopyRange | undefined {
  if (t.dataLocation !== 1) return undefined;
  const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
  const location = entry("location");
  const offset = Number(entry("offset") ?? "0");
  const length = Number(entry("length"));
  if (!location || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) return undefined;
  return { location, offset, length };
}

/** Makes `t` external data: its bytes at [offset, offset + length) of `location`, its raw_data emptied. */
export function makeExternal(t: TensorProto, range: CopyRange): void {
  clearField(t, TensorProtoSchema.field.rawData);
  t.externalData = [
    { $typeName: "onnx.StringStringEntryProto", key: "location", value: range.location },
    { $typeName: "onnx.StringStringEntryProto", key: "offset", value: String(range.offset) },
    { $typeName: "onnx.StringStringEntryProto", key: "length", value: String(range.length) },
  ];
  t.dataLocation = 1;
}

const segmentBytes = (s: Segment) => (s instanceof Uint8Array ? s.byteLength : s.length);

type Message = Record<string, unknown> & { $typeName: string; $unknown?: unknown[] };

/** A field's value: a member of a oneof lives under the oneof's name. */
function fieldValue(message: Message, f: DescField): unknown {
  if (!f.oneof) return message[f.localName];
  const o = message[f.oneof.localName] as { case?: string; value?: unknown };
  return o.case === f.localName ? o.value : undefined;
}

/** The message with only the fields `keep` selects (unknown fields with `unknown`), for encoding a part of it. */
function only(desc: DescMessage, message: Message, keep: (f: DescField) => boolean, unknown: boolean): Message {
  const out = create(desc) as unknown as Message;
  for (const f of desc.fields) {
    if (!keep(f) || !isFieldSet(message as never, f)) continue;
    if (f.oneof) out[f.oneof.localName] = message[f.oneof.localName];
    else out[f.localName] = message[f.localName];
  }
  if (unknown && message.$unknown) out.$unknown = message.$unknown;
  return out;
}

const encode = (desc: DescMessage, message: Message) => toBinary(desc, message as never, { writeUnknownFields: true });

/** Whether some tensor under `message` is external data. */
function holdsExternal(desc: DescMessage, message: Message): boolean {
  if (desc.typeName === TensorProtoSchema.typeName) return externalRange(message as unknown as TensorProto) !== undefined;
  for (const f of desc.fields) {
    if (f.fieldKind === "message" && isFieldSet(message as never, f) && holdsExternal(f.message, fieldValue(message, f) as Message)) return true;
    if (f.fieldKind === "list" && f.listKind === "message" && (message[f.localName] as Message[]).some((m) => holdsExternal(f.message, m))) return true;
  }
  return false;
}

/** An external tensor as the inline one: its fields before raw_data, raw_data copied from its range, the rest. */
function tensorSegments(t: TensorProto, range: CopyRange): Segment[] {
  const inline = clone(TensorProtoSchema, t);
  inline.externalData = [];
  // Cleared, not emptied: proto2 writes a present empty raw_data, which would follow (and so replace) the copied one.
  clearField(inline, TensorProtoSchema.field.rawData);
  clearField(inline, TensorProtoSchema.field.dataLocation);
  const all = encode(TensorProtoSchema, inline as unknown as Message);
  const low = encode(TensorProtoSchema, only(TensorProtoSchema, inline as unknown as Message, (f) => f.number < TENSOR_RAW_DATA, false));
  return [low, varintBytes((TENSOR_RAW_DATA << 3) | 2), varintBytes(range.length), range, all.subarray(low.byteLength)];
}

function messageSegments(desc: DescMessage, message: Message): Segment[] {
  if (!holdsExternal(desc, message)) return [encode(desc, message)];
  if (desc.typeName === TensorProtoSchema.typeName) {
    return tensorSegments(message as unknown as TensorProto, externalRange(message as unknown as TensorProto)!);
  }
  const out: Segment[] = [];
  const nested = (number: number, child: Segment[]) => {
    out.push(varintBytes((number << 3) | 2), varintBytes(child.reduce((n, s) => n + segmentBytes(s), 0)), ...child);
  };
  for (const f of [...desc.fields].sort((a, b) => a.number - b.number)) {
    if (!isFieldSet(message as never, f)) continue;
    if (f.fieldKind === "message" && holdsExternal(f.message, fieldValue(message, f) as Message)) {
      nested(f.number, messageSegments(f.message, fieldValue(message, f) as Message));
    } else if (f.fieldKind === "list" && f.listKind === "message") {
      // Items one by one: a list is encoded as its items' fields in order, so splitting it changes no byte.
      for (const item of message[f.localName] as Message[]) {
        if (holdsExternal(f.message, item)) nested(f.number, messageSegments(f.message, item));
        else {
          const one = only(desc, message, () => false, false);
          one[f.localName] = [item];
          out.push(encode(desc, one));
        }
      }
    } else {
      out.push(encode(desc, only(desc, message, (g) => g === f, false)));
    }
  }
  if (message.$unknown?.length) out.push(encode(desc, only(desc, message, () => false, true)));
  return out;
}

/** Adjacent literal bytes joined, so that a writer sees few, larger pieces. */
function joined(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  let run: Uint8Array[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const bytes = new Uint8Array(run.reduce((n, b) => n + b.byteLength, 0));
    let at = 0;
    for (const b of run) {
      bytes.set(b, at);
      at += b.byteLength;
    }
    out.push(bytes);
    run = [];
  };
  for (const s of segments) {
    if (s instanceof Uint8Array) {
      if (s.byteLength > 0) run.push(s);
    } else {
      flush();
      out.push(s);
    }
  }
  flush();
  return out;
}

/** The ModelProto encoding of `model` with every external tensor inline, as segments (nothing of theirs is read). */
export function segmentModel(model: ModelProto): SegmentedModel {
  const segments = joined(messageSegments(ModelProtoSchema, model as unknown as Message));
  return { segments, size: segments.reduce((n, s) => n + segmentBytes(s), 0) };
}

/** Bytes copied per ranged read while writing. */
const COPY_BYTES = 4 * 1024 * 1024;

/**
 * Writes the segments in order to `write`, copying each range from the source its location names, COPY_BYTES at a
 * time. Throws RangeError for a location without a source.
 */
export async function writeSegments(
  model: SegmentedModel,
  sources: (location: string) => ByteSource | undefined,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  for (const s of model.segments) {
    if (s instanceof Uint8Array) {
      await write(s);
      continue;
    }
    const source = sources(s.location);
    if (!source) throw new RangeError(`no source for external data location '${s.location}'`);
    for (let at = 0; at < s.length; at += COPY_BYTES) {
      const n = Math.min(COPY_BYTES, s.length - at);
      const bytes = await source.read(s.offset + at, n);
      if (bytes.byteLength !== n) throw new RangeError(`'${s.location}' gave ${bytes.byteLength} bytes at ${s.offset + at}, expected ${n}`);
      await write(bytes);
    }
  }
}
