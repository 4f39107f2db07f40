// The serve check: a variant is stored only if it serves. Its bytes load in onnxruntime-web as inference loads a
// variant (weight dequantize folded), run once at batch 1 on an input made from the model's signature, and every
// output is finite; where the kernel engine covers the graph (the engine that then serves it), it runs there too.
// Anything else is a 422 variant_failed naming the output or quoting the runtime.
import { DomainError } from "../domain-error";
import { decodeModel, type ModelProto } from "../onnx/codec";
import { toHalf } from "../onnx/encoding";
import type { TensorSignature } from "../onnx/validate";
import { createKernelSession, loadKernelSession, type KernelSession } from "./engine";
import type { ByteSource } from "../onnx/skeleton";
import type { CheckedTensor, TypedData } from "./inputs";
import { createOrtSession, makeOrtTensor, type OrtTensorType } from "./ort";
import { kernelModule } from "./wasm/builds";
import { seededRandom } from "../seeded-random";

/**
 * One input of the check: symbolic or unknown dims at 1 (an unknown rank as [1]); floats uniform in [-1, 1);
 * integers (token ids, indices) 0 or 1, safe for any embedding table; a scalar integer (an If's condition) 0;
 * bool false. Null for an element type no inference request can send (the JSON API takes none of them either).
 */
export function checkInput(signature: TensorSignature, next: () => number, symbolic = 1): CheckedTensor | null {
  const dims = signature.shape ? signature.shape.map((d) => (typeof d === "number" && d >= 0 ? d : symbolic)) : [1];
  const n = dims.reduce((a, b) => a * b, 1);
  const scalar = dims.length === 0;
  const ints = (make: (n: number) => TypedData) => {
    const data = make(n);
    if (!scalar) for (let i = 0; i < n; i++) (data as Int32Array)[i] = next() < 0.5 ? 0 : 1;
    return data;
  };
  let data: TypedData;
  switch (signature.type) {
    case "float32":
    case "float64": {
      data = signature.type === "float32" ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = next() * 2 - 1;
      break;
    }
    case "float16": {
      data = new Uint16Array(n);
      for (let i = 0; i < n; i++) data[i] = toHalf(next() * 2 - 1);
      break;
    }
    case "int8": data = ints((k) => new Int8Array(k)); break;
    case "uint8": data = ints((k) => new Uint8Array(k)); break;
    case "int16": data = ints((k) => new Int16Array(k)); break;
    case "uint16": data = ints((k) => new Uint16Array(k)); break;
    case "int32": data = ints((k) => new Int32Array(k)); break;
    case "uint32": data = ints((k) => new Uint32Array(k)); break;
    case "int64":
    case "uint64": {
      const big = signature.type === "int64" ? new BigInt64Array(n) : new BigUint64Array(n);
      if (!scalar) for (let i = 0; i < n; i++) big[i] = next() < 0.5 ? 0n : 1n;
      data = big;
      break;
    }
    case "bool": data = new Uint8Array(n); break;
    default: return null;
  }
  return { type: signature.type, dims, data };
}

/** The first non-finite value of a float output (float16 read from its bits), or null. */
function firstNonFinite(type: string, data: unknown): number | null {
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  } else if (type === "float16" && data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) if ((data[i]! & 0x7c00) === 0x7c00) return i;
  }
  return null;
}

function requireFinite(engine: string, outputs: Record<string, { type: string; data: unknown }>): void {
  for (const [name, t] of Object.entries(outputs)) {
    const at = firstNonFinite(t.type, t.data);
    if (at !== null) {
      const value = (t.data as ArrayLike<number>)[at];
      throw new DomainError("variant_failed", `the variant's output '${name}' is not finite on ${engine} (value ${at} is ${value})`);
    }
  }
}

/** The kernel engine's session, or null where serving falls back to onnxruntime-web (uncovered, or not planned). */
function kernelSession(bytes: Uint8Array): KernelSession | null {
  try {
    return createKernelSession(decodeModel(bytes), kernelModule()).session;
  } catch {
    return null;
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The check on the kernel engine alone, at the first symbolic size it runs at: for a variant too big to load in
 * onnxruntime-web beside it in one isolate (a big model's, catalog/bounded-variants.ts), where the engine serves it.
 */
async function checkOnKernels(kernels: KernelSession, inputs: readonly TensorSignature[]): Promise<ServeCheck> {
  try {
    let failure: unknown;
    for (const size of SYMBOLIC_SIZES) {
      const made = feedsAt(inputs, size);
      if (typeof made === "string") return { engines: [], skipped: made };
      let out;
      try {
        out = await kernels.run(made);
      } catch (err) {
        failure = err;
        if (!hasSymbolicDims(inputs)) break;
        continue;
      }
      requireFinite("the kernel engine", out);
      return { engines: ["kernels"], kernels: { residentBytes: kernels.residentBytes, weightBytes: kernels.weightBytes, kernels: kernels.kernels } };
    }
    throw new DomainError("variant_failed", `the variant does not run on the kernel engine: ${message(failure)}`, { cause: failure });
  } finally {
    await kernels.release();
  }
}

/** What the check ran: the engines, or why it could not run (an input type no request can send). */
export interface ServeCheck {
  engines: ("onnxruntime-web" | "kernels")[];
  skipped?: string;
  /** A check on the kernel engine alone: the session's resident bytes and kernels (what serving it will hold). */
  kernels?: { residentBytes: number; weightBytes: number; kernels: Record<string, string> };
}

/** Sizes tried for symbolic dims, smallest first: a convolution over a symbolic image needs more than 1. */
const SYMBOLIC_SIZES = [1, 32, 224];

function feedsAt(inputs: readonly TensorSignature[], symbolic: number): Record<string, CheckedTensor> | string {
  const next = seededRandom(0x5e7e);
  const feeds: Record<string, CheckedTensor> = {};
  for (const sig of inputs) {
    const t = checkInput(sig, next, symbolic);
    if (!t) return `input '${sig.name}' has element type ${sig.type}, which no inference request can send`;
    feeds[sig.name] = t;
  }
  return feeds;
}

/** Whether the original model runs on these feeds (the question is the input's, not the variant's). */
async function originalRuns(bytes: Uint8Array, feeds: Record<string, CheckedTensor>): Promise<boolean> {
  const session = await createOrtSession(bytes, { foldWeightDequantize: false });
  try {
    await session.run(ortFeedsOf(feeds));
    return true;
  } catch {
    return false;
  } finally {
    await session.release().catch((err) => console.warn(`releasing a checked session failed: ${message(err)}`));
  }
}

const ortFeedsOf = (feeds: Record<string, CheckedTensor>) =>
  Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, makeOrtTensor(t.type as OrtTensorType, t.data, t.dims)]));

const hasSymbolicDims = (inputs: readonly TensorSignature[]) =>
  inputs.some((sig) => !sig.shape || sig.shape.some((d) => typeof d !== "number" || d < 0));

/** The check on the kernel engine alone from the bytes read whole; null where the engine does not cover the graph. */
export async function checkServesOnKernels(bytes: Uint8Array, inputs: readonly TensorSignature[]): Promise<ServeCheck | null> {
  const kernels = kernelSession(bytes);
  return kernels ? checkOnKernels(kernels, inputs) : null;
}

/**
 * The check on the kernel engine alone for a big variant read by range (its skeleton, then each weight as the engine
 * packs it): what serving it will hold, without its bytes beside. Null where the engine does not cover the graph or
 * the ranged load falls short: the caller then checks the bytes read whole.
 */
export async function checkServesByRange(skeleton: ModelProto, source: ByteSource, inputs: readonly TensorSignature[]): Promise<ServeCheck | null> {
  let loaded;
  try {
    loaded = await loadKernelSession(skeleton, kernelModule(), source);
  } catch (err) {
    console.warn(`checking a variant by range failed, reading it whole: ${message(err)}`);
    return null;
  }
  return loaded.session ? checkOnKernels(loaded.session, inputs) : null;
}

/**
 * Throws variant_failed unless the bytes serve: they load and run once on onnxruntime-web, and on the kernel engine
 * where it covers the graph, with finite outputs on each. `inputs` is the model's signature (a variant keeps it);
 * `original` gives the FP32 original's bytes, read only when the variant does not run on the first input made (the
 * check then asks the original which input suits the model).
 */
export async function checkServes(
  bytes: Uint8Array,
  inputs: readonly TensorSignature[],
  original?: () => Promise<Uint8Array>,
  options: { kernelsOnly?: boolean } = {},
): Promise<ServeCheck> {
  if (options.kernelsOnly) {
    const kernels = kernelSession(bytes);
    if (kernels) return checkOnKernels(kernels, inputs);
  }
  let session;
  try {
    session = await createOrtSession(bytes, { foldWeightDequantize: true });
  } catch (err) {
    throw new DomainError("variant_failed", `the variant does not load in onnxruntime-web: ${message(err)}`, { cause: err });
  }
  let feeds: Record<string, CheckedTensor> | undefined;
  try {
    let originalBytes: Uint8Array | undefined;
    for (const size of SYMBOLIC_SIZES) {
      const made = feedsAt(inputs, size);
      if (typeof made === "string") return { engines: [], skipped: made };
      let out;
      try {
        out = await session.run(ortFeedsOf(made));
      } catch (err) {
        const refuse = () => new DomainError("variant_failed", `the variant does not run in onnxruntime-web: ${message(err)}`, { cause: err });
        if (!original) throw refuse();
        // Where the original does not run on this input either, the input is at fault: try a larger symbolic size.
        originalBytes ??= await original();
        if (await originalRuns(originalBytes, made)) throw refuse();
        if (!hasSymbolicDims(inputs)) break;
        continue;
      }
      requireFinite("onnxruntime-web", out);
      feeds = made;
      break;
    }
  } finally {
    await session.release().catch((err) => console.warn(`releasing a checked session failed: ${message(err)}`));
  }
  if (!feeds) return { engines: [], skipped: "the original model itself does not run on any input made from its signature" };

  // The kernel engine serves the variant wherever it covers the graph: that path has to answer finite values too.
  const kernels = kernelSession(bytes);
  if (!kernels) return { engines: ["onnxruntime-web"] };
  try {
    let out;
    try {
      out = await kernels.run(feeds);
    } catch (err) {
      throw new DomainError("variant_failed", `the variant does not run on the kernel engine: ${message(err)}`, { cause: err });
    }
    requireFinite("the kernel engine", out);
  } finally {
    await kernels.release();
  }
  return { engines: ["onnxruntime-web", "kernels"] };
}
