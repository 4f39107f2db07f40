// ONNX codec: ModelProto <-> bytes through protobuf-es (onnx-buf's generated schema).
// Decoding keeps `raw_data` as views into the input bytes (no copy), which matters in a 128 MB isolate.
import { fromBinary, toBinary, equals } from "@bufbuild/protobuf";
import { ModelProtoSchema, type ModelProto } from "onnx-buf";
import { DomainError } from "../domain-error";

export type { ModelProto };

export class OnnxDecodeError extends DomainError {
  override name = "OnnxDecodeError";
  constructor(message: string) {
    super("invalid_model", message);
  }
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  if (bytes.byteLength === 0) throw new OnnxDecodeError("empty body: expected ONNX ModelProto bytes");
  try {
    return fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (err) {
    throw new OnnxDecodeError(`not a decodable ONNX ModelProto: ${(err as Error).message}`);
  }
}

export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model, { writeUnknownFields: true });
}

export function modelsEqual(a: ModelProto, b: ModelProto): boolean {
  return equals(ModelProtoSchema, a, b);
}
