// Copies of decoded protobuf messages with some fields changed. onnx.proto is proto2: protobuf-es keeps the
// defaults of fields absent on the wire (a node's domain, a graph's doc string, ...) on the message's prototype,
// which an object spread drops (`{ ...node }.domain` is undefined), so edits keep the prototype.
export function edited<T extends object>(message: T, changes: Partial<T>): T {
  return Object.assign(Object.create(Object.getPrototypeOf(message) as object) as T, message, changes);
}
