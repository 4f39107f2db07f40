// Variants: a recipe applied to a model, addressed by hash(model sha256, canonical recipe), made once.
import { encodeModel } from "../onnx/codec";
import { quantizeModel } from "../compress/quantize";
import { canonicalJson, quantizeOptions, recipeBits, type Recipe } from "../compress/recipe";
import { notFound } from "../errors";
import type { Env } from "../env";
import { modelBlobKey, variantBlobKey } from "../store/keys";
import { sha256Hex } from "../store/body";
import { getVariantRecord, putVariantRecord, type ModelRecord, type VariantRecord } from "../store/records";
import { parseModelBytes, readBlob } from "./models";
import { servingProfile } from "../serve/sessions";

export async function variantId(modelSha256: string, recipe: Recipe): Promise<string> {
  const digest = await sha256Hex(new TextEncoder().encode(`${modelSha256}\n${canonicalJson(recipe)}`));
  return digest.slice(0, 24);
}

/** Compression proper: pure over bytes, so the same model and recipe always give the same bytes. */
export function compressModelBytes(modelBytes: Uint8Array, recipe: Recipe) {
  const model = parseModelBytes(modelBytes);
  const result = quantizeModel(model, quantizeOptions(recipe.quantize));
  return { bytes: encodeModel(result.model), tensors: result.tensors, skipped: result.skipped };
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
  const { bytes, tensors, skipped } = compressModelBytes(original, recipe);
  const sha256 = await sha256Hex(bytes);
  const serving = servingProfile(bytes, model.bytes);
  await env.BLOBS.put(variantBlobKey(tenant, model.id, id), bytes, { sha256 });
  const variant: VariantRecord = {
    id,
    modelId: model.id,
    sha256,
    recipe,
    bits: recipeBits(recipe),
    bytes: bytes.byteLength,
    compressionRatio: model.bytes / bytes.byteLength,
    engine: serving.engine,
    residentBytes: serving.residentBytes,
    tensors,
    skipped,
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
