// Variants: a recipe applied to a model, addressed by hash(model sha256, canonical recipe), made once.
import { encodeModel } from "../onnx/codec";
import { quantizeModel, type TensorReport } from "../compress/quantize";
import { pruneModel, PruneRecipeError } from "../compress/prune";
import { densifyInitializers, sparsifyInitializers } from "../onnx/sparse";
import { encodedSizes } from "../store/encoding";
import { canonicalJson, recipeBits, type Recipe, type TrainedRecipe } from "../compress/recipe";
import { summarizeModel, type TensorSignature } from "../onnx/validate";
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { modelBlobKey, variantBlobKey } from "../store/keys";
import { sha256Hex } from "../store/body";
import {
  getVariantRecord,
  putVariantRecord,
  type ModelRecord,
  type PruneReport,
  type VariantRecord,
  type VariantStages,
} from "../store/records";
import { parseModelBytes, readBlob } from "./models";

export async function variantId(modelSha256: string, recipe: Recipe | TrainedRecipe, bytesSha256?: string): Promise<string> {
  // A trained variant's bytes come from outside, so they are part of its address too.
  const key = `${modelSha256}\n${canonicalJson(recipe)}${bytesSha256 ? `\n${bytesSha256}` : ""}`;
  return (await sha256Hex(new TextEncoder().encode(key))).slice(0, 24);
}

/** Same names, types and fixed dims (symbolic dims may be named differently). */
function sameSignature(a: TensorSignature[], b: TensorSignature[]): boolean {
  const sameShape = (x: TensorSignature["shape"], y: TensorSignature["shape"]) =>
    !x || !y || (x.length === y.length && x.every((d, i) => typeof d !== "number" || typeof y[i] !== "number" || d === y[i]));
  return a.length === b.length && a.every((x, i) => x.name === b[i]!.name && x.type === b[i]!.type && sameShape(x.shape, b[i]!.shape));
}

/**
 * Registers ONNX bytes produced outside (e.g. by the training script) as a variant of a model. The bytes are
 * validated like any upload and must keep the parent's input and output names and types, so that every
 * serving path (?bits=, experiments) can swap one for the other.
 */
export async function registerTrainedVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  bytes: Uint8Array,
  recipe: TrainedRecipe,
): Promise<{ created: boolean; variant: VariantRecord }> {
  const sha256 = await sha256Hex(bytes);
  const id = await variantId(model.sha256, recipe, sha256);
  const existing = await getVariantRecord(env, tenant, model.id, id);
  if (existing) return { created: false, variant: existing };
  const summary = summarizeModel(parseModelBytes(bytes));
  if (!sameSignature(summary.inputs, model.inputs) || !sameSignature(summary.outputs, model.outputs)) {
    const show = (s: TensorSignature[]) => s.map((t) => `${t.name}:${t.type}[${t.shape?.join(",") ?? "?"}]`).join(", ");
    throw new ApiError(
      400,
      "invalid_model",
      `a trained variant must keep its parent's inputs (${show(model.inputs)}) and outputs (${show(model.outputs)}); got (${show(summary.inputs)}) and (${show(summary.outputs)})`,
    );
  }
  await env.BLOBS.put(variantBlobKey(tenant, model.id, id), bytes, { sha256 });
  const variant: VariantRecord = {
    id,
    modelId: model.id,
    sha256,
    recipe,
    bits: recipe.trained.bits ?? 32,
    bytes: bytes.byteLength,
    compressionRatio: model.bytes / bytes.byteLength,
    engine: "onnxruntime-web",
    tensors: [],
    skipped: [],
    createdAt: new Date().toISOString(),
  };
  await putVariantRecord(env, tenant, variant);
  return { created: true, variant };
}

/**
 * Compression proper: pure over bytes, so the same model and recipe always give the same bytes. Deep Compression
 * order: prune, quantize the survivors (an exact zero quantizes to zero), then store mostly-zero tensors sparse.
 */
export function compressModelBytes(modelBytes: Uint8Array, recipe: Recipe) {
  let model = parseModelBytes(modelBytes);
  let prune: PruneReport | undefined;
  let prunedBytes: number | null = null;
  let quantizedBytes: number | null = null;
  if (recipe.prune) {
    let result;
    try {
      result = pruneModel(densifyInitializers(model), recipe.prune);
    } catch (err) {
      if (err instanceof PruneRecipeError) throw new ApiError(400, "invalid_recipe", err.message);
      throw err;
    }
    model = result.model;
    prunedBytes = encodeModel(model).byteLength;
    prune = { sparsity: result.sparsity, layers: result.layers, skipped: result.skipped, sparseTensors: [] };
  }
  let tensors: TensorReport[] = [];
  let skipped: VariantRecord["skipped"] = [];
  if (recipe.quantize) {
    const result = quantizeModel(model, { bits: recipe.quantize.bits });
    model = result.model;
    tensors = result.tensors;
    skipped = result.skipped;
    quantizedBytes = encodeModel(model).byteLength;
  }
  if (prune) {
    const sparse = sparsifyInitializers(model);
    model = sparse.model;
    prune.sparseTensors = sparse.tensors;
  }
  return { bytes: encodeModel(model), tensors, skipped, prune, prunedBytes, quantizedBytes };
}

export async function makeVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  recipe: Recipe,
): Promise<{ created: boolean; variant: VariantRecord }> {
  const id = await variantId(model.sha256, recipe);
  const existing = await getVariantRecord(env, tenant, model.id, id);
  if (existing) return { created: false, variant: existing };
  const original = await readBlob(env, modelBlobKey(tenant, model.id), "model");
  const { bytes, tensors, skipped, prune, prunedBytes, quantizedBytes } = compressModelBytes(original, recipe);
  const sha256 = await sha256Hex(bytes);
  const stages: VariantStages = {
    denseFp32: model.bytes,
    pruned: prunedBytes,
    quantized: quantizedBytes,
    stored: bytes.byteLength,
    encoded: await encodedSizes(bytes),
  };
  await env.BLOBS.put(variantBlobKey(tenant, model.id, id), bytes, { sha256 });
  const variant: VariantRecord = {
    id,
    modelId: model.id,
    sha256,
    recipe,
    bits: recipeBits(recipe),
    bytes: bytes.byteLength,
    compressionRatio: model.bytes / bytes.byteLength,
    engine: "onnxruntime-web",
    tensors,
    skipped,
    ...(prune ? { prune } : {}),
    stages,
    createdAt: new Date().toISOString(),
  };
  await putVariantRecord(env, tenant, variant);
  return { created: true, variant };
}

export async function requireVariant(env: Env, tenant: string, modelId: string, vid: string): Promise<VariantRecord> {
  const v = await getVariantRecord(env, tenant, modelId, vid);
  if (!v) throw notFound("variant", vid);
  return v;
}
