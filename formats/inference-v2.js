// The Open Inference Protocol's (KServe V2) tensor words and its binary tensor data extension, the one home of both:
// datatype names against the API's element types, and tensors to and from little-endian row-major bytes (BOOL one
// byte, BYTES a 4-byte length before each element). Shared by the Worker, the client and the CLI; plain ESM, JSDoc.
import { toHalf } from "./half.js";

/** @typedef {Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array} TypedData */
/** @typedef {{ new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TypedData, BYTES_PER_ELEMENT: number }} TypedArrayClass */
/** @typedef {{ type: string, size: number, array: TypedArrayClass | null }} DatatypeEntry */

/**
 * V2 datatype -> the API's element type (the names of formats/npy.js and model signatures), bytes per element and the
 * typed array that holds it. FP16 travels as its raw bits (Uint16Array); BYTES has no fixed size (size 0, no array).
 * @type {Readonly<Record<string, DatatypeEntry>>}
 */
export const V2_DATATYPES = Object.freeze({
  BOOL: { type: "bool", size: 1, array: Uint8Array },
  UINT8: { type: "uint8", size: 1, array: Uint8Array },
  UINT16: { type: "uint16", size: 2, array: Uint16Array },
  UINT32: { type: "uint32", size: 4, array: Uint32Array },
  UINT64: { type: "uint64", size: 8, array: BigUint64Array },
  INT8: { type: "int8", size: 1, array: Int8Array },
  INT16: { type: "int16", size: 2, array: Int16Array },
  INT32: { type: "int32", size: 4, array: Int32Array },
  INT64: { type: "int64", size: 8, array: BigInt64Array },
  FP16: { type: "float16", size: 2, array: Uint16Array },
  FP32: { type: "float32", size: 4, array: Float32Array },
  FP64: { type: "float64", size: 8, array: Float64Array },
  BF16: { type: "bfloat16", size: 2, array: Uint16Array },
  BYTES: { type: "string", size: 0, array: null },
});

/** The header that gives the JSON part's length when a body carries binary tensors after it. */
export const HEADER_LENGTH_HEADER = "Inference-Header-Content-Length";

/** Thrown for bytes or words that do not make a tensor; the message names the tensor. */
export class TensorFormatError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "TensorFormatError";
  }
}

/** @param {string} datatype @returns {DatatypeEntry | undefined} */
export function datatypeEntry(datatype) {
  return Object.prototype.hasOwnProperty.call(V2_DATATYPES, datatype) ? V2_DATATYPES[datatype] : undefined;
}

/**
 * The V2 datatype of an API element type ("float32" -> "FP32"); null for one the protocol has no name for.
 * @param {string} type @returns {string | null}
 */
export function datatypeOf(type) {
  for (const [name, entry] of Object.entries(V2_DATATYPES)) if (entry.type === type) return name;
  return null;
}

/**
 * Elements of a shape: non-negative integers, their product a safe integer.
 * @param {string} tensor @param {unknown} shape @returns {number}
 */
export function elementCount(tensor, shape) {
  if (!Array.isArray(shape)) throw new TensorFormatError(`tensor '${tensor}': shape must be an array of integers`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new TensorFormatError(`tensor '${tensor}': shape [${shape.join(", ")}] must hold non-negative integers`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new TensorFormatError(`tensor '${tensor}': shape [${shape.join(", ")}] is too large`);
  return count;
}

/**
 * A tensor's binary data as its typed array, after checking that the byte count is what shape x datatype needs. A
 * view of `bytes` where its offset is aligned for the element size, else one copy (the JSON header before it has any
 * length). BYTES elements come back as strings.
 * @param {string} tensor @param {string} datatype @param {number} count @param {Uint8Array} bytes
 * @returns {TypedData | string[]}
 */
export function decodeBinaryTensor(tensor, datatype, count, bytes) {
  const entry = datatypeEntry(datatype);
  if (!entry) throw new TensorFormatError(`tensor '${tensor}': unknown datatype '${datatype}' (known: ${Object.keys(V2_DATATYPES).join(", ")})`);
  if (!entry.array) return decodeBytesElements(tensor, count, bytes);
  const need = count * entry.size;
  if (bytes.byteLength !== need) {
    throw new TensorFormatError(`tensor '${tensor}': ${bytes.byteLength} bytes of binary data, but its shape and ${datatype} need ${need}`);
  }
  if (bytes.byteOffset % entry.size === 0) return new entry.array(/** @type {ArrayBuffer} */ (bytes.buffer), bytes.byteOffset, count);
  return new entry.array(/** @type {ArrayBuffer} */ (bytes.slice().buffer), 0, count);
}

/** @param {string} tensor @param {number} count @param {Uint8Array} bytes @returns {string[]} */
function decodeBytesElements(tensor, count, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  /** @type {string[]} */
  const out = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) throw new TensorFormatError(`tensor '${tensor}': BYTES element ${i} is missing its length`);
    const n = view.getUint32(at, true);
    at += 4;
    if (at + n > bytes.byteLength) throw new TensorFormatError(`tensor '${tensor}': BYTES element ${i} runs past its ${bytes.byteLength} bytes`);
    out.push(text.decode(bytes.subarray(at, at + n)));
    at += n;
  }
  if (at !== bytes.byteLength) throw new TensorFormatError(`tensor '${tensor}': ${bytes.byteLength - at} bytes left after its ${count} BYTES elements`);
  return out;
}

/**
 * A tensor's values as binary data in the datatype's layout (little-endian, BOOL one byte, BYTES length-prefixed).
 * A typed array of the datatype's own class is used as it is (for FP16, the half bits); FP16 numbers are rounded to
 * the nearest half.
 * @param {string} datatype @param {ArrayLike<number | bigint | boolean | string>} values @returns {Uint8Array}
 */
export function encodeBinaryTensor(datatype, values) {
  const entry = datatypeEntry(datatype);
  if (!entry) throw new TensorFormatError(`unknown datatype '${datatype}'`);
  if (!entry.array) {
    const parts = Array.from(values, (v) => new TextEncoder().encode(String(v)));
    const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const p of parts) {
      view.setUint32(at, p.byteLength, true);
      out.set(p, at + 4);
      at += 4 + p.byteLength;
    }
    return out;
  }
  if (values instanceof entry.array) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const big = entry.array === BigInt64Array || entry.array === BigUint64Array;
  const half = entry.type === "float16"; // numbers to their half bits (a Uint16Array is taken as bits, above)
  const data = new entry.array(new ArrayBuffer(values.length * entry.size));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const n = typeof v === "boolean" ? Number(v) : v;
    if (big) /** @type {BigInt64Array} */ (data)[i] = typeof n === "bigint" ? n : BigInt(Math.trunc(Number(n)));
    else if (half) /** @type {Uint16Array} */ (data)[i] = toHalf(Number(n));
    else /** @type {Float64Array} */ (data)[i] = Number(n);
  }
  return new Uint8Array(data.buffer);
}

/**
 * A body of the binary extension: the JSON header, then each chunk in order. The header length goes into
 * Inference-Header-Content-Length.
 * @param {unknown} header @param {Uint8Array[]} chunks @returns {{ body: Uint8Array<ArrayBuffer>, headerLength: number }}
 */
export function joinBinaryBody(header, chunks) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(json.byteLength + chunks.reduce((n, c) => n + c.byteLength, 0));
  body.set(json, 0);
  let at = json.byteLength;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body, headerLength: json.byteLength };
}

/**
 * The body of an inference request with every input as binary data after the JSON header; `fields` go into the header
 * beside `inputs` (`outputs`, `parameters` such as binary_data_output).
 * @param {Record<string, { type: string, dims: readonly number[], data: ArrayLike<number | bigint | boolean> }>} inputs
 * @param {Record<string, unknown>} [fields]
 * @returns {{ body: Uint8Array<ArrayBuffer>, headerLength: number }}
 */
export function binaryInferBody(inputs, fields = {}) {
  /** @type {Uint8Array[]} */
  const chunks = [];
  const tensors = Object.entries(inputs).map(([name, t]) => {
    const datatype = datatypeOf(t.type);
    if (!datatype) throw new TypeError(`input '${name}': element type ${t.type} has no V2 datatype`);
    const bytes = encodeBinaryTensor(datatype, t.data);
    chunks.push(bytes);
    return { name, shape: [...t.dims], datatype, parameters: { binary_data_size: bytes.byteLength } };
  });
  return joinBinaryBody({ inputs: tensors, ...fields }, chunks);
}

/**
 * Splits a body of the binary extension into its JSON header (parsed) and the binary part after it.
 * @param {Uint8Array} body @param {number} headerLength @returns {{ header: unknown, binary: Uint8Array }}
 */
export function splitBinaryBody(body, headerLength) {
  if (!Number.isSafeInteger(headerLength) || headerLength < 0) {
    throw new TensorFormatError(`${HEADER_LENGTH_HEADER} must be a non-negative integer`);
  }
  if (headerLength > body.byteLength) {
    throw new TensorFormatError(`${HEADER_LENGTH_HEADER} is ${headerLength} but the body has ${body.byteLength} bytes`);
  }
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
  } catch {
    throw new TensorFormatError(`the first ${headerLength} bytes of the body (${HEADER_LENGTH_HEADER}) are not a JSON object`);
  }
  return { header, binary: body.subarray(headerLength) };
}

/**
 * Each tensor's binary data, in order, from the binary part of a body: `sizes` are their binary_data_size (null for a
 * tensor whose data is JSON). The sizes must account for every byte.
 * @param {Uint8Array} binary @param {{ name: string, size: number | null }[]} tensors @returns {(Uint8Array | null)[]}
 */
export function sliceBinaryTensors(binary, tensors) {
  let at = 0;
  const out = tensors.map(({ name, size }) => {
    if (size === null) return null;
    if (!Number.isSafeInteger(size) || size < 0) throw new TensorFormatError(`tensor '${name}': binary_data_size must be a non-negative integer`);
    if (at + size > binary.byteLength) {
      throw new TensorFormatError(`tensor '${name}': binary_data_size ${size} runs past the body (${binary.byteLength - at} bytes left)`);
    }
    const slice = binary.subarray(at, at + size);
    at += size;
    return slice;
  });
  if (at !== binary.byteLength) throw new TensorFormatError(`${binary.byteLength - at} bytes after the tensors' binary_data_size are claimed by no tensor`);
  return out;
}
