// Variants: a recipe applied to a model, addressed by hash(model sha256, canonical recipe), made once.
import { compressModel, type CompressResult } from "../compress/pipeline";
import { PruneRecipeError } from "../compress/prune";
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

/** Compression proper (see compress/pipeline.ts), with a recipe naming layers the model lacks as a 400. */
export function compressModelBytes(modelBytes: Uint8Array, recipe: Recipe): CompressResult {
  const model = parseModelBytes(modelBytes);
  try {
    return compressModel(model, recipe);
  } catch (err) {
    if (err instanceof PruneRecipeError) throw new ApiError(400, "invalid_recipe", err.message);
    throw err;
  }
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
