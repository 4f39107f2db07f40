// The compression pipeline over a decoded model, in Deep Compression's order: prune, quantize the survivors (an
// exact zero quantizes to zero, so sparsity survives), then store mostly-zero tensors as sparse initializers.
import type { ModelProto } from "onnx-buf";
import { encodeModel } from "../onnx/codec";
import { densifyInitializers, sparsifyInitializers, type SparseReport } from "../onnx/sparse";
import { pruneModel, type PruneResult } from "./prune";
import { quantizeModel, type QuantizeResult, type TensorReport } from "./quantize";
import type { Recipe } from "./recipe";

export interface CompressResult {
  bytes: Uint8Array;
  tensors: TensorReport[];
  skipped: QuantizeResult["skipped"];
  prune?: Pick<PruneResult, "sparsity" | "layers" | "skipped"> & { sparseTensors: SparseReport[] };
  /** Encoded size after each stage the recipe runs (null for a stage it skips). */
  prunedBytes: number | null;
  quantizedBytes: number | null;
}

/** Pure: the same model and recipe always give the same bytes. Throws PruneRecipeError for names the model lacks. */
export function compressModel(input: ModelProto, recipe: Recipe): CompressResult {
  let model = input;
  let prune: CompressResult["prune"];
  let prunedBytes: number | null = null;
  let quantizedBytes: number | null = null;
  if (recipe.prune) {
    const result = pruneModel(densifyInitializers(model), recipe.prune);
    model = result.model;
    prunedBytes = encodeModel(model).byteLength;
    prune = { sparsity: result.sparsity, layers: result.layers, skipped: result.skipped, sparseTensors: [] };
  }
  let tensors: TensorReport[] = [];
  let skipped: QuantizeResult["skipped"] = [];
  if (recipe.quantize) {
    const result = quantizeModel(model, { bits: recipe.quantize.bits });
    model = result.model;
    tensors = result.tensors;
    skipped = result.skipped;
    quantizedBytes = encodeModel(model).byteLength;
  }
  // Quantize-only recipes keep their bytes (and ids) exactly as before pruning existed.
  if (prune) {
    const sparse = sparsifyInitializers(model);
    model = sparse.model;
    prune.sparseTensors = sparse.tensors;
  }
  return { bytes: encodeModel(model), tensors, skipped, prune, prunedBytes, quantizedBytes };
}
