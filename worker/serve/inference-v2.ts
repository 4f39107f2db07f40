// The Open Inference Protocol's (KServe V2) request and response objects against the serving path: V2 inputs (JSON
// data, or binary data after the JSON header, or a raw body for a one-input model) become the tensors checkInputs
// takes; an answer's outputs become V2 outputs, as JSON or as binary chunks. The words and byte layouts are
// formats/inference-v2.js's; every problem is a 400 invalid_input naming the tensor.
import { DomainError } from "../domain-error";
import type { TensorSignature } from "../onnx/validate";
import {
  datatypeEntry,
  datatypeOf,
  decodeBinaryTensor,
  elementCount,
  encodeBinaryTensor,
  sliceBinaryTensors,
  splitBinaryBody,
  TensorFormatError,
  V2_DATATYPES,
} from "../../formats/inference-v2.js";
import { encodeJsonNumber } from "../../formats/json-numbers.js";
import type { InputTensor, JsonTensor } from "./inputs";

type Parameters = Record<string, unknown>;

export interface V2RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Parameters;
  data?: unknown;
}

export interface V2RequestOutput {
  name: string;
  parameters?: Parameters;
}

export interface V2Request {
  id?: string;
  parameters?: Parameters;
  inputs: V2RequestInput[];
  outputs?: V2RequestOutput[];
}

export interface V2ResponseOutput {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Parameters;
}

const bad = (message: string) => new DomainError("invalid_input", message);

/** The format module's errors as this API's: a 400 whose message names the tensor. */
function asInvalidInput<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TensorFormatError) throw bad(err.message);
    throw err;
  }
}

/** An Inference-Header-Content-Length value as a number of bytes; NaN where it is not a whole number. */
export const headerLengthOf = (value: string): number => (/^\s*\d+\s*$/.test(value) ? Number(value) : NaN);

/**
 * How a body carries its request: a JSON header (the whole body, or its first Inference-Header-Content-Length bytes
 * with binary tensor data after it), or, with no header (`application/octet-stream`, or a header length of 0), raw
 * bytes of a one-input model's input. The header comes back parsed, for the route's schema to check; a header longer
 * than `maxJsonBytes` is refused before parsing (JSON numbers cost far more to parse than binary ones).
 */
export function splitV2Body(
  body: Uint8Array,
  headerLength: string | undefined,
  contentType: string | undefined,
  maxJsonBytes: number,
): { kind: "header"; header: unknown; binary: Uint8Array } | { kind: "raw"; body: Uint8Array } {
  const bounded = (n: number) => {
    if (n <= body.byteLength && n > maxJsonBytes) throw new DomainError("payload_too_large", `the JSON header holds ${n} bytes, over the limit of ${maxJsonBytes} (MAX_JSON_BYTES)`);
    return n;
  };
  if (headerLength !== undefined) {
    const n = headerLengthOf(headerLength);
    if (n === 0) return { kind: "raw", body };
    return { kind: "header", ...asInvalidInput(() => splitBinaryBody(body, Number.isNaN(n) ? n : bounded(n))) };
  }
  if (contentType && /^\s*application\/octet-stream\s*(;|$)/i.test(contentType)) return { kind: "raw", body };
  return { kind: "header", ...asInvalidInput(() => splitBinaryBody(body, bounded(body.byteLength))), binary: new Uint8Array() };
}

/** A V2 signature entry: the datatype name, -1 for a symbolic or unknown dimension. */
export function v2Signature(sig: TensorSignature): { name: string; datatype: string; shape: number[] } {
  return {
    name: sig.name,
    datatype: datatypeOf(sig.type) ?? sig.type.toUpperCase(),
    shape: (sig.shape ?? []).map((d) => (typeof d === "number" ? d : -1)),
  };
}

/**
 * The request's inputs as tensors for checkInputs: binary ones (parameters.binary_data_size) read straight into typed
 * arrays from `binary`, in the order the inputs are listed; JSON ones flattened (row-major nesting is allowed).
 */
export function decodeV2Inputs(request: V2Request, binary: Uint8Array): Record<string, InputTensor> {
  return asInvalidInput(() => {
    const sizes = request.inputs.map((input) => {
      const size = input.parameters?.binary_data_size;
      if (size === undefined) return { name: input.name, size: null };
      if (typeof size !== "number") throw bad(`tensor '${input.name}': binary_data_size must be a number`);
      return { name: input.name, size };
    });
    const chunks = sliceBinaryTensors(binary, sizes);
    const out: Record<string, InputTensor> = {};
    request.inputs.forEach((input, i) => {
      if (Object.prototype.hasOwnProperty.call(out, input.name)) throw bad(`tensor '${input.name}' is given twice`);
      const entry = datatypeEntry(input.datatype);
      if (!entry) throw bad(`tensor '${input.name}': unknown datatype '${input.datatype}' (known: ${Object.keys(V2_DATATYPES).join(", ")})`);
      const count = elementCount(input.name, input.shape);
      const chunk = chunks[i];
      if (chunk) {
        if (input.data !== undefined) throw bad(`tensor '${input.name}' has both data and binary_data_size`);
        const data = decodeBinaryTensor(input.name, input.datatype, count, chunk);
        if (!ArrayBuffer.isView(data)) throw bad(`tensor '${input.name}': ${input.datatype} tensors are not accepted by any model here`);
        out[input.name] = { type: entry.type, dims: input.shape, data };
        return;
      }
      if (!Array.isArray(input.data)) throw bad(`tensor '${input.name}' has neither data nor binary_data_size`);
      const data = (input.data.some(Array.isArray) ? input.data.flat(Infinity) : input.data) as JsonTensor["data"];
      if (data.length !== count) throw bad(`tensor '${input.name}' has ${data.length} values but shape [${input.shape.join(", ")}] needs ${count}`);
      out[input.name] = { type: entry.type, dims: input.shape, data };
    });
    return out;
  });
}

/**
 * A raw body (application/octet-stream, no JSON header) as the one input of a one-input model: the datatype and
 * the fixed dimensions are the model's, one symbolic dimension is what the byte count leaves for it.
 */
export function decodeRawInput(declared: readonly TensorSignature[], body: Uint8Array): Record<string, InputTensor> {
  if (declared.length !== 1) {
    throw bad(`a raw binary body needs a model with one input; this one has ${declared.length} (${declared.map((d) => `'${d.name}'`).join(", ")}): send a JSON header with Inference-Header-Content-Length`);
  }
  const sig = declared[0]!;
  const datatype = datatypeOf(sig.type);
  const entry = datatype ? datatypeEntry(datatype) : undefined;
  if (!datatype || !entry?.array) throw bad(`input '${sig.name}' has element type ${sig.type}, which a raw body cannot carry`);
  const shape = sig.shape ?? [];
  const open = shape.filter((d) => typeof d !== "number").length;
  if (open > 1) throw bad(`input '${sig.name}' has ${open} symbolic dimensions: a raw body cannot say them; send a JSON header`);
  const fixed = shape.reduce<number>((n, d) => (typeof d === "number" ? n * d : n), 1);
  const elements = body.byteLength / entry.size;
  const rest = fixed > 0 ? elements / fixed : 0;
  if (!Number.isInteger(elements) || !Number.isInteger(rest) || (open === 0 && rest !== 1)) {
    throw bad(`input '${sig.name}': a raw body of ${body.byteLength} bytes is not a whole ${datatype} tensor of shape [${shape.join(", ")}]`);
  }
  const dims = shape.map((d) => (typeof d === "number" ? d : rest));
  const data = asInvalidInput(() => decodeBinaryTensor(sig.name, datatype, elements, body));
  return { [sig.name]: { type: entry.type, dims, data: data as Exclude<typeof data, string[]> } };
}

/**
 * The answer's outputs as V2 outputs: the ones the request names (all when it names none), each as binary when its
 * parameters.binary_data says so, else as the request's parameters.binary_data_output says. Binary chunks follow in
 * the order of the outputs that carry binary_data_size.
 */
export function encodeV2Outputs(
  outputs: Record<string, JsonTensor>,
  request: { outputs?: V2RequestOutput[]; binaryAll: boolean },
): { outputs: V2ResponseOutput[]; chunks: Uint8Array[] } {
  const wanted = request.outputs ?? Object.keys(outputs).map((name) => ({ name, parameters: undefined }));
  const chunks: Uint8Array[] = [];
  const seen = new Set<string>();
  const encoded = wanted.map((want) => {
    const t = outputs[want.name];
    if (!t) throw bad(`output '${want.name}' is not an output of this model; its outputs are ${Object.keys(outputs).map((n) => `'${n}'`).join(", ")}`);
    if (seen.has(want.name)) throw bad(`output '${want.name}' is asked for twice`);
    seen.add(want.name);
    const datatype = datatypeOf(t.type) ?? t.type.toUpperCase();
    const flag = want.parameters?.binary_data;
    const binary = typeof flag === "boolean" ? flag : request.binaryAll;
    if (!binary) return { name: want.name, datatype, shape: t.dims, data: t.data.map(encodeJsonNumber) };
    const bytes = asInvalidInput(() => encodeBinaryTensor(datatype, t.data));
    chunks.push(bytes);
    return { name: want.name, datatype, shape: t.dims, parameters: { binary_data_size: bytes.byteLength } };
  });
  return { outputs: encoded, chunks };
}
