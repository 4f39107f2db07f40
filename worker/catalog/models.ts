// The model catalog: registering uploads (validate, then bytes, then record), reading and deleting models.
import { decodeModel } from "../onnx/codec";
import { readSkeleton } from "../onnx/skeleton";
import { summarizeModel, validateModel } from "../onnx/validate";
import { notFound } from "../domain-error";
import { sha256Hex } from "../store/body";
import type { TenantStore } from "../store/tenant";
import { modelChanged } from "./changes";
import { requireRoom } from "./quotas";
import type { Page } from "../store/tenant";
import type { ModelRecord, VariantSummary } from "./records";

/** Model ids are the first 24 hex digits of the SHA-256 of the bytes. */
export const modelIdFromSha = (sha256: string) => sha256.slice(0, 24);

export type ModelView = ModelRecord & { variants: VariantSummary[] };

/** Decodes and validates (codec and validation errors are invalid_model). */
export function parseModelBytes(bytes: Uint8Array) {
  const model = decodeModel(bytes);
  validateModel(model);
  return model;
}

export async function registerModel(
  store: TenantStore,
  bytes: Uint8Array,
  name: string | undefined,
): Promise<{ created: boolean; model: ModelView }> {
  const sha256 = await sha256Hex(bytes);
  const id = modelIdFromSha(sha256);
  const existing = await store.getModel(id);
  if (existing) return { created: false, model: await withVariants(store, existing) };
  const summary = summarizeModel(parseModelBytes(bytes));
  await requireRoom(store, { models: 1, bytes: bytes.byteLength }, "delete a model or a dataset first");
  // Bytes first (R2 verifies the checksum), record last: a failure in between leaves no record.
  await store.putModelBytes(id, bytes, sha256);
  return putRecord(store, { id, sha256, bytes: bytes.byteLength, ...summary }, name);
}

/**
 * Registers bytes staged under an upload (./uploads.ts) without holding them: the SHA-256 streamed (or given), the model validated
 * from its skeleton (ranged reads of its structure), then the bytes moved to the model's address and the record
 * written. The staged bytes are gone afterwards whatever the outcome.
 */
export async function registerStagedModel(
  store: TenantStore,
  uploadId: string,
  name: string | undefined,
  knownSha256?: string,
): Promise<{ created: boolean; model: ModelView }> {
  try {
    // A body hashed as it streamed in (./uploads.ts) is not read back for it; parts, joined in R2, are.
    const sha256 = knownSha256 ?? (await store.stagedSha256(uploadId));
    const id = modelIdFromSha(sha256);
    const existing = await store.getModel(id);
    if (existing) return { created: false, model: await withVariants(store, existing) };
    const source = await store.stagedSource(uploadId);
    const skeleton = decodeModel((await readSkeleton(source)).bytes);
    validateModel(skeleton, { skeletonOf: source.size });
    const summary = summarizeModel(skeleton);
    await requireRoom(store, { models: 1, bytes: source.size }, "delete a model or a dataset first");
    await store.promoteStagedModel(uploadId, id, sha256);
    return putRecord(store, { id, sha256, bytes: source.size, ...summary }, name);
  } finally {
    await store.deleteStaged(uploadId);
  }
}

/** Writes a new model's record, once its bytes are in place. */
async function putRecord(
  store: TenantStore,
  fields: Omit<ModelRecord, "name" | "createdAt">,
  name: string | undefined,
): Promise<{ created: true; model: ModelView }> {
  const record: ModelRecord = { ...fields, name: name ?? `model-${fields.id.slice(0, 8)}`, createdAt: new Date().toISOString() };
  await store.putModel(record);
  return { created: true, model: { ...record, variants: [] } };
}

export async function withVariants(store: TenantStore, record: ModelRecord): Promise<ModelView> {
  return { ...record, variants: await store.listVariantSummaries(record.id) };
}

export async function requireModel(store: TenantStore, modelId: string): Promise<ModelRecord> {
  const record = await store.getModel(modelId);
  if (!record) throw notFound("model", modelId);
  return record;
}

export function listModels(store: TenantStore, cursor?: string, limit?: number): Promise<Page<ModelRecord>> {
  return store.listModels(cursor, limit);
}

/**
 * Removes the records first (so nothing points at missing bytes), then the bytes. The model's record goes before its
 * variants' records: a job that checks for the model after writing a variant's record (catalog/variants.ts) either
 * sees it gone and removes that record itself, or wrote before this pass over the variant records, which removes it.
 */
export async function deleteModel(store: TenantStore, modelId: string): Promise<void> {
  await requireModel(store, modelId);
  await store.deleteModelRecord(modelId);
  await store.deleteVariantRecords(modelId);
  modelChanged(store.tenant, modelId);
  await store.deleteModelBytes(modelId);
}
