// Inference tensors as JSON ({type, dims, data}) or already typed (binary bodies): checked against the model's declared
// inputs; JSON values are converted to typed arrays one by one, typed ones need only their class and length checked.
// Every problem is a 400 invalid_input naming the input.
import { DomainError } from "../domain-error";
import type { TensorSignature } from "../onnx/validate";
import { LimitError, MAX_OUTPUT_ELEMENTS, MAX_TENSOR_ELEMENTS } from "../onnx/limits";
import { fromHalf, toHalf } from "../onnx/encoding";

export interface JsonTensor {
  type: string;
  dims: number[];
  data: (number | boolean)[];
}

export type TypedData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface CheckedTensor {
  type: string;
  dims: number[];
  data: TypedData;
}

/** A tensor as a request gave it: JSON values, or a typed array read straight from binary data. */
export type InputTensor = JsonTensor | CheckedTensor;

interface ElementKind {
  make(n: number): TypedData;
  /** The typed array that holds this type (bool: one byte each). */
  array: abstract new (...args: never[]) => TypedData;
  /** Integer range (inclusive) or null for floats. */
  range: [number, number] | null;
}

const KINDS: Record<string, ElementKind> = {
  float32: { make: (n) => new Float32Array(n), array: Float32Array, range: null },
  float64: { make: (n) => new Float64Array(n), array: Float64Array, range: null },
  // JSON numbers round to the nearest half; binary data is the half bits.
  float16: { make: (n) => new Uint16Array(n), array: Uint16Array, range: null },
  int8: { make: (n) => new Int8Array(n), array: Int8Array, range: [-128, 127] },
  uint8: { make: (n) => new Uint8Array(n), array: Uint8Array, range: [0, 255] },
  int16: { make: (n) => new Int16Array(n), array: Int16Array, range: [-32768, 32767] },
  uint16: { make: (n) => new Uint16Array(n), array: Uint16Array, range: [0, 65535] },
  int32: { make: (n) => new Int32Array(n), array: Int32Array, range: [-2147483648, 2147483647] },
  uint32: { make: (n) => new Uint32Array(n), array: Uint32Array, range: [0, 4294967295] },
  int64: { make: (n) => new BigInt64Array(n), array: BigInt64Array, range: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] },
  uint64: { make: (n) => new BigUint64Array(n), array: BigUint64Array, range: [0, Number.MAX_SAFE_INTEGER] },
  bool: { make: (n) => new Uint8Array(n), array: Uint8Array, range: [0, 1] },
};

export const SUPPORTED_INPUT_TYPES = Object.keys(KINDS);

const bad = (message: string) => new DomainError("invalid_input", message);

export function checkInputs(
  declared: readonly TensorSignature[],
  given: Record<string, InputTensor>,
): Record<string, CheckedTensor> {
  const byName = new Map(declared.map((d) => [d.name, d]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      throw bad(`unknown input '${name}'; the model's inputs are ${declared.map((d) => `'${d.name}'`).join(", ")}`);
    }
  }
  const symbols = new Map<string, { value: number; input: string }>();
  const checked: Record<string, CheckedTensor> = {};
  for (const sig of declared) {
    const t = given[sig.name];
    if (!t) throw bad(`missing input '${sig.name}' (${sig.type}${sig.shape ? ` [${sig.shape.join(", ")}]` : ""})`);
    const kind = KINDS[sig.type];
    if (!kind) throw bad(`input '${sig.name}' has element type ${sig.type}, which the JSON API does not accept`);
    if (t.type !== sig.type) throw bad(`input '${sig.name}' must be ${sig.type}, got ${t.type}`);
    if (sig.shape) {
      if (t.dims.length !== sig.shape.length) {
        throw bad(`input '${sig.name}' must have rank ${sig.shape.length} [${sig.shape.join(", ")}], got dims [${t.dims.join(", ")}]`);
      }
      sig.shape.forEach((d, i) => {
        const got = t.dims[i]!;
        if (typeof d === "number" && d !== got) {
          throw bad(`input '${sig.name}' dim ${i} must be ${d}, got ${got}`);
        }
        if (typeof d === "string") {
          const seen = symbols.get(d);
          if (seen && seen.value !== got) {
            throw bad(`input '${sig.name}' dim ${i} ('${d}') is ${got} but '${seen.input}' has ${d}=${seen.value}`);
          }
          symbols.set(d, { value: got, input: sig.name });
        }
      });
    }
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw bad(`input '${sig.name}' has ${t.data.length} values but dims [${t.dims.join(", ")}] need ${count}`);
    }
    if (!Array.isArray(t.data)) {
      checked[sig.name] = { type: sig.type, dims: t.dims, data: checkTyped(sig.name, sig.type, kind, t.data) };
      continue;
    }
    const data = kind.make(count);
    const isBig = data instanceof BigInt64Array || data instanceof BigUint64Array;
    const half = sig.type === "float16";
    for (let i = 0; i < count; i++) {
      const raw = t.data[i];
      const v = typeof raw === "boolean" ? (raw ? 1 : 0) : raw;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw bad(`input '${sig.name}' value ${i} is not a finite number`);
      }
      if (kind.range && (!Number.isInteger(v) || v < kind.range[0] || v > kind.range[1])) {
        throw bad(`input '${sig.name}' value ${i} (${v}) is not a valid ${sig.type}`);
      }
      if (isBig) (data as BigInt64Array)[i] = BigInt(v);
      else if (half) (data as Uint16Array)[i] = toHalf(v);
      else (data as Float32Array)[i] = v;
    }
    checked[sig.name] = { type: sig.type, dims: t.dims, data };
  }
  return checked;
}

/** Typed data is well formed by its class and length alone; only a bool byte can hold a value outside its type. */
function checkTyped(name: string, type: string, kind: ElementKind, data: TypedData): TypedData {
  if (!(data instanceof kind.array)) throw bad(`input '${name}' must be ${type}`);
  if (type === "bool") {
    const at = (data as Uint8Array).findIndex((b) => b > 1);
    if (at >= 0) throw bad(`input '${name}' value ${at} (${data[at]}) is not a bool (0 or 1)`);
  }
  return data;
}

/**
 * The output budget, checked before an answer is serialized (whichever engine computed it): each output at most
 * MAX_TENSOR_ELEMENTS, all of them at most MAX_OUTPUT_ELEMENTS. Throws LimitError (413) naming the output.
 */
export function checkOutputSizes(outputs: Record<string, { dims: readonly number[] }>): void {
  let total = 0;
  for (const [name, t] of Object.entries(outputs)) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n > MAX_TENSOR_ELEMENTS) {
      throw new LimitError(`output '${name}' has ${n} elements (dims [${t.dims.join(", ")}]), over the limit of ${MAX_TENSOR_ELEMENTS} (MAX_TENSOR_ELEMENTS)`);
    }
    total += n;
    if (total > MAX_OUTPUT_ELEMENTS) {
      throw new LimitError(`the outputs hold more than ${MAX_OUTPUT_ELEMENTS} elements together, at output '${name}' (MAX_OUTPUT_ELEMENTS)`);
    }
  }
}

/** Plain JSON for an output tensor: 64-bit integers become numbers, booleans true/false, float16 bits their values. */
export function outputToJson(type: string, dims: readonly number[], data: unknown): JsonTensor {
  const values: (number | boolean)[] = [];
  if (Array.isArray(data)) {
    for (const v of data) values.push(typeof v === "number" || typeof v === "boolean" ? v : Number(v));
  } else if (ArrayBuffer.isView(data)) {
    const half = type === "float16" && data instanceof Uint16Array;
    for (const v of data as unknown as Iterable<number | bigint>) {
      values.push(type === "bool" ? Boolean(v) : half ? fromHalf(Number(v)) : Number(v));
    }
  }
  return { type: type === "float" ? "float32" : type, dims: [...dims], data: values };
}
