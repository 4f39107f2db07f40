// The model catalog: registering uploads (validate, then bytes, then record), reading and deleting models.
import { decodeModel, OnnxDecodeError } from "../onnx/codec";
import { OnnxValidationError, summarizeModel, validateModel } from "../onnx/validate";
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { modelBlobKey, variantBlobPrefix } from "../store/keys";
import { sha256Hex } from "../store/body";
import {
  deleteModelRecord,
  deleteVariantRecords,
  getModelRecord,
  listVariantSummaries,
  putModelRecord,
  type ModelRecord,
  type VariantSummary,
} from "../store/records";
import { evictModelSessions } from "../serve/sessions";
import { forgetModel } from "../serve/serving-cache";

/** Model ids are the first 24 hex digits of the SHA-256 of the bytes. */
export const modelIdFromSha = (sha256: string) => sha256.slice(0, 24);

export type ModelView = ModelRecord & { variants: VariantSummary[] };

/** Decodes and validates, mapping codec errors to 400 invalid_model. */
export function parseModelBytes(bytes: Uint8Array) {
  try {
    const model = decodeModel(bytes);
    validateModel(model);
    return model;
  } catch (err) {
    if (err instanceof OnnxDecodeError || err instanceof OnnxValidationError) {
      throw new ApiError(400, "invalid_model", err.message);
    }
    throw err;
  }
}

export async function registerModel(
  env: Env,
  tenant: string,
  bytes: Uint8Array,
  name: string | undefined,
): Promise<{ created: boolean; model: ModelView }> {
  const sha256 = await sha256Hex(bytes);
  const id = modelIdFromSha(sha256);
  const existing = await getModelRecord(env, tenant, id);
  if (existing) return { created: false, model: await withVariants(env, tenant, existing) };
  const summary = summarizeModel(parseModelBytes(bytes));
  // Bytes first (R2 verifies the checksum), record last: a failure in between leaves no record.
  await env.BLOBS.put(modelBlobKey(tenant, id), bytes, { sha256, httpMetadata: { contentType: "application/octet-stream" } });
  const record: ModelRecord = {
    id,
    name: name ?? `model-${id.slice(0, 8)}`,
    sha256,
    bytes: bytes.byteLength,
    ...summary,
    createdAt: new Date().toISOString(),
  };
  await putModelRecord(env, tenant, record);
  return { created: true, model: { ...record, variants: [] } };
}

export async function withVariants(env: Env, tenant: string, record: ModelRecord): Promise<ModelView> {
  return { ...record, variants: await listVariantSummaries(env, tenant, record.id) };
}

export async function requireModel(env: Env, tenant: string, modelId: string): Promise<ModelRecord> {
  const record = await getModelRecord(env, tenant, modelId);
  if (!record) throw notFound("model", modelId);
  return record;
}

/** Removes the records first (so nothing points at missing bytes), then the bytes. */
export async function deleteModel(env: Env, tenant: string, modelId: string): Promise<void> {
  await requireModel(env, tenant, modelId);
  await deleteVariantRecords(env, tenant, modelId);
  await deleteModelRecord(env, tenant, modelId);
  evictModelSessions(tenant, modelId);
  forgetModel(tenant, modelId);
  const prefix = variantBlobPrefix(tenant, modelId);
  let cursor: string | undefined;
  do {
    const page = await env.BLOBS.list({ prefix, cursor });
    if (page.objects.length > 0) await env.BLOBS.delete(page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  await env.BLOBS.delete(modelBlobKey(tenant, modelId));
}

export async function openBlob(env: Env, key: string, what: string): Promise<R2ObjectBody> {
  const obj = await env.BLOBS.get(key);
  if (!obj) throw new ApiError(404, "not_found", `${what} bytes are missing`);
  return obj;
}

export async function readBlob(env: Env, key: string, what: string): Promise<Uint8Array> {
  const obj = await env.BLOBS.get(key);
  if (!obj) throw new ApiError(404, "not_found", `${what} bytes are missing`);
  return new Uint8Array(await obj.arrayBuffer());
}
