// A dataset: the arrays of one .npz (or the single array of a .npy), checked to share one sample count, with
// optional integer `labels`; and its binding to a model's inputs (by name, or the one array for a one-input model).
// The .npy/.npz format itself is formats/ (shared with the CLI and the tests); this module is the Worker's rule for
// uploads: six element types, data exactly as long as the shape says, a bound on the decompressed size.
import { decodeNpy, isNpy, NpyError, type NpyArray as FormatArray } from "../../formats/npy.js";
import { decodeNpz, isZip } from "../../formats/npz.js";
import { toHalf } from "../../formats/half.js";
import { DomainError } from "../domain-error";
import type { TensorSignature } from "../onnx/validate";

/** A malformed upload, from the format reader (its NpyError) or from the dataset's own checks: invalid_dataset. */
export class DatasetFormatError extends DomainError {
  override name = "DatasetFormatError";
  constructor(message: string) {
    super("invalid_dataset", message);
  }
}

/** The element types a dataset may hold (what model inputs take and labels need). */
const DATASET_DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"] as const;

export interface NpyArray {
  dtype: (typeof DATASET_DTYPES)[number];
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

/** Narrowed by DATASET_DTYPES: the reader returned one of the six. */
const datasetArray = (a: FormatArray) => a as NpyArray;

/** Parses one .npy of a dataset; `label` names it in errors (the npz entry or "the .npy upload"). */
export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  return datasetArray(decodeNpy(bytes, { label, dtypes: DATASET_DTYPES }));
}

async function parseNpz(bytes: Uint8Array, maxBytes: number): Promise<Map<string, NpyArray>> {
  const arrays = await decodeNpz(bytes, { maxBytes, dtypes: DATASET_DTYPES });
  return new Map([...arrays].map(([name, a]) => [name, datasetArray(a)]));
}

/** The name np.savez gives a positional array; a .npy upload's array gets it too. */
export const POSITIONAL_NAME = "arr_0";
export const LABELS = "labels";

export interface ArraySummary {
  name: string;
  dtype: string;
  shape: number[];
}

export interface Dataset {
  format: "npz" | "npy";
  samples: number;
  inputs: Map<string, NpyArray>;
  labels: NpyArray | null;
}

/** The dataset an upload holds; any reason it cannot be read is a DatasetFormatError. */
export async function parseDataset(bytes: Uint8Array, maxDecompressedBytes: number): Promise<Dataset> {
  try {
    return await readDataset(bytes, maxDecompressedBytes);
  } catch (err) {
    if (err instanceof NpyError) throw new DatasetFormatError(err.message);
    // The .npz reader's decompression stream fails with a TypeError on corrupt deflate data.
    if (err instanceof TypeError) throw new DatasetFormatError(`not a readable .npz: ${err.message}`);
    throw err;
  }
}

async function readDataset(bytes: Uint8Array, maxDecompressedBytes: number): Promise<Dataset> {
  let arrays: Map<string, NpyArray>;
  let format: Dataset["format"];
  if (isNpy(bytes)) {
    arrays = new Map([[POSITIONAL_NAME, parseNpy(bytes, "the .npy upload")]]);
    format = "npy";
  } else if (isZip(bytes)) {
    arrays = await parseNpz(bytes, maxDecompressedBytes);
    format = "npz";
  } else {
    throw new DatasetFormatError("expected a .npy or .npz file (np.save / np.savez)");
  }
  const labels = arrays.get(LABELS) ?? null;
  arrays.delete(LABELS);
  if (arrays.size === 0) throw new DatasetFormatError("the dataset has no input arrays (only 'labels')");
  let samples = -1;
  for (const [name, a] of arrays) {
    if (a.shape.length === 0) throw new DatasetFormatError(`array '${name}' is a scalar; the first axis must index samples`);
    if (samples < 0) samples = a.shape[0]!;
    else if (a.shape[0] !== samples) {
      throw new DatasetFormatError(`array '${name}' has ${a.shape[0]} samples but another array has ${samples}`);
    }
  }
  if (samples === 0) throw new DatasetFormatError("the dataset has no samples");
  if (labels) {
    if (labels.shape.length !== 1 || labels.shape[0] !== samples) {
      throw new DatasetFormatError(`'labels' must have shape (${samples},), got (${labels.shape.join(", ")})`);
    }
    if (labels.dtype === "float32" || labels.dtype === "float64") {
      if (!Array.from(labels.data as Float32Array).every((v) => Number.isInteger(v) && v >= 0)) {
        throw new DatasetFormatError("'labels' must be non-negative class indices");
      }
    } else if (labels.dtype !== "bool" && Array.from(labels.data as Int32Array, Number).some((v) => v < 0)) {
      throw new DatasetFormatError("'labels' must be non-negative class indices");
    }
  }
  return { format, samples, inputs: arrays, labels };
}

export function summarizeArrays(d: Dataset): ArraySummary[] {
  const all = [...d.inputs].map(([name, a]) => ({ name, dtype: a.dtype, shape: a.shape }));
  if (d.labels) all.push({ name: LABELS, dtype: d.labels.dtype, shape: d.labels.shape });
  return all;
}

export function labelAt(d: Dataset, i: number): number {
  return Number(d.labels!.data[i]!);
}

export interface BatchTensor {
  type: string;
  dims: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/** Which dataset array feeds each model input; a mismatch is a DatasetFormatError naming both sides. */
export function bindInputs(d: Dataset, inputs: readonly TensorSignature[]): Map<string, NpyArray> {
  const bound = new Map<string, NpyArray>();
  for (const sig of inputs) {
    let a = d.inputs.get(sig.name);
    if (!a && inputs.length === 1 && d.inputs.size === 1) a = [...d.inputs.values()][0];
    if (!a) {
      throw new DatasetFormatError(`the dataset has no array for model input '${sig.name}' (it has ${[...d.inputs.keys()].map((k) => `'${k}'`).join(", ")})`);
    }
    if (sig.shape) {
      if (sig.shape.length !== a.shape.length) {
        throw new DatasetFormatError(`model input '${sig.name}' has rank ${sig.shape.length} [${sig.shape.join(", ")}] but its array has shape (${a.shape.join(", ")})`);
      }
      sig.shape.forEach((dim, i) => {
        if (i > 0 && typeof dim === "number" && dim !== a.shape[i]) {
          throw new DatasetFormatError(`model input '${sig.name}' dim ${i} must be ${dim}, its array has ${a.shape[i]}`);
        }
      });
      const batchDim = sig.shape[0];
      if (typeof batchDim === "number" && batchDim !== 1) {
        throw new DatasetFormatError(`model input '${sig.name}' has a fixed batch of ${batchDim}; datasets need a batch dim of 1 or symbolic`);
      }
    }
    const numeric = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"].includes(sig.type);
    if (!numeric) throw new DatasetFormatError(`model input '${sig.name}' has type ${sig.type}, which datasets cannot feed`);
    bound.set(sig.name, a);
  }
  return bound;
}

/** Samples [start, end) of each bound array, converted to the model input's element type. */
export function sliceBatch(
  bound: Map<string, NpyArray>,
  inputs: readonly TensorSignature[],
  start: number,
  end: number,
): Record<string, BatchTensor> {
  const feeds: Record<string, BatchTensor> = {};
  for (const sig of inputs) {
    const a = bound.get(sig.name)!;
    const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
    const src = a.data.subarray(start * per, end * per);
    const n = src.length;
    let data: BatchTensor["data"];
    if (sig.type === a.dtype || (sig.type === "bool" && a.dtype === "uint8")) data = src;
    else if (sig.type === "float32") data = Float32Array.from(src as ArrayLike<number>, Number);
    else if (sig.type === "float64") data = Float64Array.from(src as ArrayLike<number>, Number);
    else if (sig.type === "float16") data = Uint16Array.from(src as ArrayLike<number>, (v) => toHalf(Number(v))); // a half model's input: the nearest half's bits
    else if (sig.type === "int64") data = BigInt64Array.from(src as ArrayLike<number>, (v) => BigInt(Math.trunc(Number(v))));
    else if (sig.type === "int32") data = Int32Array.from(src as ArrayLike<number>, Number);
    else data = Uint8Array.from(src as ArrayLike<number>, Number);
    if (data.length !== n) throw new DatasetFormatError(`array for '${sig.name}' could not be converted`);
    feeds[sig.name] = { type: sig.type, dims: [end - start, ...a.shape.slice(1)], data };
  }
  return feeds;
}
