// Compression in bounded memory, for models too big to hold: the model is its skeleton (onnx/skeleton.ts), each weight
// is read by range when its turn comes, quantized, and its encoded tensors are moved out of memory (spilled) before the
// next is read; the variant is then written as segments (onnx/segments.ts), copying from the original and the spills.
// What it holds at once: the skeleton, one weight and its encoding (and weights behind a Transpose or Cast, which are
// read in to be folded, within MAX_FOLDED_BYTES). The variant's bytes are those compressModel makes
// of the whole model. Recipes whose work needs every weight or a dataset at once are refused (BoundedRecipeError).
import type { ModelProto, TensorProto } from "onnx-buf";
import { normalizeConstants } from "../onnx/constants";
import { LimitError } from "../onnx/limits";
import { segmentModel, makeExternal, type SegmentedModel } from "../onnx/segments";
import { HOLLOW_TENSOR_BYTES, loadTensorData, skeletonRange, type ByteSource } from "../onnx/skeleton";
import { checkRecipe, initializerNames, NothingToCompressError, quantizeByRecipeSteps, REPORTED_UNCOVERED, uncoveredConstants, type CompressResult } from "./pipeline";
import { biasCorrectionOf, calibrationOf, roundingOf, scaleOf, smoothingOf, type Recipe } from "./recipe";
import { DomainError } from "../domain-error";

/** The most bytes of one float weight read at once: with its encoding, what a bounded compression holds beyond the skeleton. */
export const MAX_BOUNDED_WEIGHT_BYTES = 32 * 1024 * 1024;

/**
 * The most bytes of weights behind a Transpose or Cast read in whole: folding such a chain (onnx/constants.ts) needs the
 * values, and the folded weight is held until the end. Chains past this stay as they are, their weights float.
 */
export const MAX_FOLDED_BYTES = 32 * 1024 * 1024;

/** Reads in the large constants a Transpose or Cast of the main graph reads, in graph order, within MAX_FOLDED_BYTES. */
async function readChainSources(model: ModelProto, original: ByteSource): Promise<void> {
  const graph = model.graph!;
  const constants = new Map<string, TensorProto>(graph.initializer.map((t) => [t.name, t]));
  for (const n of graph.node) {
    const value = n.opType === "Constant" && n.attribute.length === 1 && n.attribute[0]!.name === "value" ? n.attribute[0]!.t : undefined;
    if (value && n.output[0]) constants.set(n.output[0], value);
  }
  let budget = MAX_FOLDED_BYTES;
  for (const n of graph.node) {
    if ((n.opType !== "Transpose" && n.opType !== "Cast") || (n.domain !== "" && n.domain !== "ai.onnx")) continue;
    const t = constants.get(n.input[0] ?? "");
    const range = t && skeletonRange(t);
    if (!range || range.length > budget) continue;
    budget -= range.length;
    await loadTensorData(t, original);
  }
}

/** A recipe that needs the whole model at once, on a model compressed in bounded memory. */
export class BoundedRecipeError extends DomainError {
  override name = "BoundedRecipeError";
  constructor(why: string) {
    super(
      "payload_too_large",
      `${why}: a model this size is compressed one weight at a time, which takes weight-only quantize recipes ` +
        "(bits 16, 8, 4, 2, 1, codebook, or pq without calibration) without prune, equalize, rounding, scale 'mse' or biasCorrection",
    );
  }
}

/** Why a recipe cannot run one weight at a time, or null. */
export function boundedRecipeProblem(recipe: Recipe): string | null {
  const q = recipe.quantize;
  if (recipe.prune) return "prune ranks weights across the model";
  if (!q) return "the recipe quantizes nothing";
  if (q.scheme !== "weight-only") return `scheme '${q.scheme}' rewrites activations, which needs the model run on data`;
  if (q.equalize) return "equalize rescales pairs of layers together";
  if (smoothingOf(q)) return "smooth needs the model run on data";
  if (roundingOf(q)) return "rounding 'gptq' or 'adaround' needs the model run on data";
  // Its search keeps a group index, integer levels and a reconstruction beside each weight: about three times the
  // float weight, where the absmax encoders hold about one (MAX_MSE_SCALE_ELEMENTS bounds it in memory).
  if (scaleOf(q) === "mse") return "scale 'mse' holds several copies of each weight while it searches";
  if (biasCorrectionOf(q)) return "biasCorrection needs the model run on data";
  if (calibrationOf(q)) return "calibration needs the model run on data";
  return null;
}

/** Where a bounded compression reads the original's weights and puts what it encodes. */
export interface BoundedIo {
  /** The original model's bytes, read by range. */
  original: ByteSource;
  /** Stores encoded bytes outside memory; returns the external-data location they are read back from. */
  spill(bytes: Uint8Array): Promise<string>;
  /** Told after each weight: how many are done, of the model's large tensors (the most there can be). */
  progress?(done: number, total: number): Promise<void>;
}

export type BoundedResult = Omit<CompressResult, "bytes" | "activations" | "prune"> & {
  /** The variant: its skeleton (every large tensor external data, in the original or a spill), and its encoding. */
  model: ModelProto;
  encoded: SegmentedModel;
};

/** The skeleton's tensors left in the model's file: the most weights a recipe can quantize, for progress. */
function countLarge(model: ModelProto): number {
  return model.graph!.initializer.filter((t) => skeletonRange(t) !== undefined).length;
}

/**
 * Compresses a model given as its skeleton, one weight at a time (see the header). `originalBytes` is the original's
 * size. Throws what compressModel throws, BoundedRecipeError for a recipe that needs the whole model, and LimitError
 * for a weight over MAX_BOUNDED_WEIGHT_BYTES (which `exclude` may leave float, copied as it is).
 */
export async function compressBounded(skeleton: ModelProto, recipe: Recipe, io: BoundedIo, originalBytes: number): Promise<BoundedResult> {
  const problem = boundedRecipeProblem(recipe);
  if (problem) throw new BoundedRecipeError(problem);
  await readChainSources(skeleton, io.original);
  const model = normalizeConstants(skeleton);
  checkRecipe(model, recipe);
  const before = initializerNames(model);
  const total = countLarge(model);
  let done = 0;
  const steps = quantizeByRecipeSteps(model, recipe.quantize!, undefined, undefined, false, true);
  let step = steps.next(undefined);
  while (!step.done) {
    const request = step.value;
    if (request.kind === "read") {
      const range = skeletonRange(request.tensor);
      if (!range) throw new DomainError("invalid_model", `weight '${request.tensor.name}' is external data outside the model's own file`);
      if (range.length > MAX_BOUNDED_WEIGHT_BYTES) {
        throw new LimitError(
          `weight '${request.tensor.name}' is ${range.length} bytes; compression reads at most ${MAX_BOUNDED_WEIGHT_BYTES} bytes of one ` +
            "weight at once (MAX_BOUNDED_WEIGHT_BYTES): exclude its layer to keep it float",
        );
      }
      step = steps.next(await io.original.read(range.offset, range.length));
      continue;
    }
    for (const t of request.weight.initializers) {
      if (t.rawData.byteLength < HOLLOW_TENSOR_BYTES) continue;
      const length = t.rawData.byteLength;
      makeExternal(t, { location: await io.spill(t.rawData), offset: 0, length });
    }
    await io.progress?.(++done, total);
    step = steps.next(undefined);
  }
  const { model: out, tensors, skipped } = step.value;
  if (tensors.length === 0) {
    throw new NothingToCompressError("the recipe changes no weight of this model", [...skipped, ...uncoveredConstants(out, 0, before)]);
  }
  const encoded = segmentModel(out);
  if (encoded.size >= originalBytes) {
    throw new NothingToCompressError(`the variant would take ${encoded.size} bytes, the original ${originalBytes}`, [...skipped, ...uncoveredConstants(out, 0, before)]);
  }
  skipped.push(...uncoveredConstants(out, REPORTED_UNCOVERED, before));
  return { model: out, encoded, tensors, skipped, prunedBytes: null, quantizedBytes: encoded.size };
}
