// One tenant's storage, bound once per request (or job run): R2 holds bytes, KV holds the records that point at
// them, and the key scheme (./keys.ts) stays inside this folder. A record is written only after the bytes it
// points at are complete in R2; removals go records first, so nothing points at missing bytes.
import { DomainError } from "../domain-error";
import { hexOf } from "./body";
import { tenantLimits, type TenantLimits } from "../limits";
import {
  datasetBlobKey,
  datasetRecordKey,
  datasetRecordPrefix,
  experimentRecordKey,
  experimentRecordPrefix,
  jobPrefix,
  modelBlobKey,
  modelJobKey,
  modelJobPrefix,
  modelRecordKey,
  modelRecordPrefix,
  uploadBlobKey,
  uploadRecordKey,
  uploadRecordPrefix,
  variantBlobKey,
  variantBlobPrefix,
  spillBlobPrefix,
  variantRecordKey,
  variantRecordPrefix,
  variantsPrefix,
} from "./keys";
import type { ModelRecord, StoredDataset, StoredVariant, UploadRecord, VariantSummary } from "./records";
import type { ByteSource } from "../onnx/skeleton";

/** The two bindings a tenant's store is made of. */
export interface StoreBindings {
  BLOBS: R2Bucket;
  RECORDS: KVNamespace;
  /** Overrides MAX_WHOLE_MODEL_BYTES (a smaller bound lets tests reach the bounded paths with small models). */
  WHOLE_MODEL_BYTES?: string;
}

/** A page of a listing: its items and, when more follow, the opaque cursor of the next page. */
export interface Page<T> {
  items: T[];
  cursor?: string;
}

/**
 * The largest model that compression reads whole and the Worker serves (64 MiB: one request's share of a 128 MB
 * isolate; a variant over 16 MiB is served from ranged reads, sessions.ts). Larger models upload (in parts, or
 * streamed), compress one weight at a time and download; they are validated from their skeleton.
 */
export const MAX_WHOLE_MODEL_BYTES = 64 * 1024 * 1024;

/** The most items a page holds: KV reads at most 100 keys in one call. */
export const MAX_PAGE = 100;

/** What a tenant holds, counted from KV listings (keys and their metadata; a record without metadata is read). */
export interface TenantUsage {
  models: number;
  datasets: number;
  experiments: number;
  storedBytes: number;
  /** Jobs queued or running (noted at submission, forgotten when they end). */
  runningJobs: number;
  /**
   * Uploads in parts planned and not yet completed, aborted or expired (their planned bytes count in storedBytes, as
   * do files of external data completed and waiting for their model, which hold no multipart upload and are not counted here).
   */
  openUploads: number;
  /** Variants of each model that has any. */
  variantsByModel: Map<string, number>;
}

/** KV metadata of model and dataset records: their size, so that usage is counted from a listing. */
interface SizeMetadata {
  bytes: number;
  /** An upload whose parts are joined (a file of external data waiting for its model): it holds no multipart upload. */
  complete?: true;
}

export class TenantStore {
  /** The tenant's quotas and rate limits (../limits.ts), from the same bindings' variables. */
  readonly limits: TenantLimits;
  /** The most bytes of a model compressed in memory, and of a model or variant served; bigger ones are read by range. */
  readonly wholeModelBytes: number;

  constructor(
    private readonly bindings: StoreBindings,
    readonly tenant: string,
  ) {
    this.limits = tenantLimits(bindings);
    this.wholeModelBytes = Math.min(Number(bindings.WHOLE_MODEL_BYTES ?? MAX_WHOLE_MODEL_BYTES) || MAX_WHOLE_MODEL_BYTES, MAX_WHOLE_MODEL_BYTES);
  }

  private get blobs(): R2Bucket {
    return this.bindings.BLOBS;
  }

  private get records(): KVNamespace {
    return this.bindings.RECORDS;
  }

  // Models.

  getModel(modelId: string): Promise<ModelRecord | null> {
    return this.records.get<ModelRecord>(modelRecordKey(this.tenant, modelId), "json");
  }

  async putModel(record: ModelRecord): Promise<void> {
    const metadata: SizeMetadata = { bytes: record.bytes };
    await this.records.put(modelRecordKey(this.tenant, record.id), JSON.stringify(record), { metadata });
  }

  /** A page of models in id order: one KV list and one bulk read, whatever the page's size. */
  listModels(cursor?: string, limit = MAX_PAGE): Promise<Page<ModelRecord>> {
    return this.pageOfRecords<ModelRecord>(modelRecordPrefix(this.tenant), cursor, limit);
  }

  async deleteModelRecord(modelId: string): Promise<void> {
    await this.records.delete(modelRecordKey(this.tenant, modelId));
  }

  async putModelBytes(modelId: string, bytes: Uint8Array, sha256: string): Promise<void> {
    await this.blobs.put(modelBlobKey(this.tenant, modelId), bytes, { sha256, httpMetadata: { contentType: "application/octet-stream" } });
  }

  /**
   * A model's bytes, whole: refused (413) for a model over MAX_WHOLE_MODEL_BYTES, which uploads and downloads but is
   * never held at once. `what` names the bytes in the not-found message ("model bytes are missing").
   */
  async readModelBytes(modelId: string, what = "model"): Promise<Uint8Array> {
    const obj = await this.openBlob(modelBlobKey(this.tenant, modelId), what);
    if (obj.size > this.wholeModelBytes) {
      await obj.body.cancel();
      throw new DomainError(
        "payload_too_large",
        `the model is ${obj.size} bytes: compressing and serving read a model whole, which holds at most ` +
          `${this.wholeModelBytes} bytes (MAX_WHOLE_MODEL_BYTES)`,
      );
    }
    return new Uint8Array(await obj.arrayBuffer());
  }

  openModelBytes(modelId: string): Promise<R2ObjectBody> {
    return this.openBlob(modelBlobKey(this.tenant, modelId), "model");
  }

  /** The model's bytes and those of all its variants. */
  async deleteModelBytes(modelId: string): Promise<void> {
    await this.deleteBlobsUnder(variantBlobPrefix(this.tenant, modelId));
    await this.blobs.delete(modelBlobKey(this.tenant, modelId));
  }

  /** Every object under `prefix`, a page of keys at a time. */
  private async deleteBlobsUnder(prefix: string): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.blobs.list({ prefix, cursor });
      if (page.objects.length > 0) await this.blobs.delete(page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  // Variants.

  getVariant<V extends StoredVariant>(modelId: string, variantId: string): Promise<V | null> {
    return this.records.get<V>(variantRecordKey(this.tenant, modelId, variantId), "json");
  }

  /** The record carries its summary as KV metadata so that listing a model's variants is one call. */
  async putVariant(record: StoredVariant): Promise<void> {
    const summary: VariantSummary = {
      id: record.id,
      bits: record.bits,
      bytes: record.bytes,
      compressionRatio: record.compressionRatio,
      createdAt: record.createdAt,
    };
    await this.records.put(variantRecordKey(this.tenant, record.modelId, record.id), JSON.stringify(record), {
      metadata: summary,
    });
  }

  /** A page of a model's variants in id order, from the records' metadata alone. */
  async listVariantPage(modelId: string, cursor?: string, limit = MAX_PAGE): Promise<Page<VariantSummary>> {
    const page = await this.records.list<VariantSummary>({ prefix: variantRecordPrefix(this.tenant, modelId), cursor, limit: Math.min(limit, MAX_PAGE) });
    const items = page.keys.map((k) => k.metadata).filter((m): m is VariantSummary => m !== undefined);
    return { items, ...(page.list_complete ? {} : { cursor: page.cursor }) };
  }

  async listVariantSummaries(modelId: string): Promise<VariantSummary[]> {
    const keys = await this.listKeys<VariantSummary>(variantRecordPrefix(this.tenant, modelId));
    return keys
      .map((k) => k.metadata)
      .filter((m): m is VariantSummary => m !== undefined)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async deleteVariantRecords(modelId: string): Promise<void> {
    const keys = await this.listKeys(variantRecordPrefix(this.tenant, modelId));
    await Promise.all(keys.map((k) => this.records.delete(k.name)));
  }

  async deleteVariantRecord(modelId: string, variantId: string): Promise<void> {
    await this.records.delete(variantRecordKey(this.tenant, modelId, variantId));
  }

  async deleteVariantBytes(modelId: string, variantId: string): Promise<void> {
    await this.blobs.delete(variantBlobKey(this.tenant, modelId, variantId));
  }

  async putVariantBytes(modelId: string, variantId: string, bytes: Uint8Array, sha256: string): Promise<void> {
    await this.blobs.put(variantBlobKey(this.tenant, modelId, variantId), bytes, { sha256 });
  }

  readVariantBytes(modelId: string, variantId: string, what = "variant"): Promise<Uint8Array> {
    return this.readBlob(variantBlobKey(this.tenant, modelId, variantId), what);
  }

  openVariantBytes(modelId: string, variantId: string): Promise<R2ObjectBody> {
    return this.openBlob(variantBlobKey(this.tenant, modelId, variantId), "variant");
  }

  // Uploads: bytes staged under the upload's id until their SHA-256 (the model's id) is known.

  getUpload(uploadId: string): Promise<UploadRecord | null> {
    return this.records.get<UploadRecord>(uploadRecordKey(this.tenant, uploadId), "json");
  }

  /**
   * The record expires with the upload (KV's TTL): an upload never completed leaves no record behind. Its planned
   * size is its metadata: an open upload's bytes count as stored (usage) until it completes or ends.
   */
  async putUpload(record: UploadRecord, expiresAt: number): Promise<void> {
    const metadata: SizeMetadata = { bytes: record.totalBytes, ...(record.completedAt ? { complete: true as const } : {}) };
    await this.records.put(uploadRecordKey(this.tenant, record.id), JSON.stringify(record), { expiration: Math.floor(expiresAt / 1000), metadata });
  }

  async deleteUpload(uploadId: string): Promise<void> {
    await this.records.delete(uploadRecordKey(this.tenant, uploadId));
  }

  createStagedUpload(uploadId: string): Promise<R2MultipartUpload> {
    return this.blobs.createMultipartUpload(uploadBlobKey(this.tenant, uploadId));
  }

  resumeStagedUpload(uploadId: string, multipartId: string): R2MultipartUpload {
    return this.blobs.resumeMultipartUpload(uploadBlobKey(this.tenant, uploadId), multipartId);
  }

  /** The staged object read by range, one window at a time (for the skeleton reader, ../onnx/skeleton.ts). */
  stagedSource(uploadId: string): Promise<ByteSource> {
    return this.rangedSource(uploadBlobKey(this.tenant, uploadId), `upload '${uploadId}'`);
  }

  /** A model's bytes read by range (never whole): what compressing a model too big to hold reads. */
  modelSource(modelId: string): Promise<ByteSource> {
    return this.rangedSource(modelBlobKey(this.tenant, modelId), `model '${modelId}'`);
  }

  /** A variant's bytes read by range. */
  variantSource(modelId: string, variantId: string): Promise<ByteSource> {
    return this.rangedSource(variantBlobKey(this.tenant, modelId, variantId), `variant '${variantId}'`);
  }

  private async rangedSource(key: string, what: string): Promise<ByteSource> {
    const head = await this.blobs.head(key);
    if (!head) throw new DomainError("not_found", `${what} has no bytes`);
    return this.sized(key, head.size, what);
  }

  private sized(key: string, size: number, what: string): ByteSource {
    return {
      size,
      read: async (offset, length) => {
        const obj = await this.blobs.get(key, { range: { offset, length } });
        if (!obj) throw new DomainError("not_found", `${what} has no bytes`);
        return new Uint8Array(await obj.arrayBuffer());
      },
    };
  }

  // Spills: encoded weights of a variant being made, stored until the variant is written from them.

  async putSpill(modelId: string, variantId: string, name: string, bytes: Uint8Array): Promise<void> {
    await this.blobs.put(spillBlobPrefix(this.tenant, modelId, variantId) + name, bytes);
  }

  /** A spill of `size` bytes, read by range. */
  spillSource(modelId: string, variantId: string, name: string, size: number): ByteSource {
    return this.sized(spillBlobPrefix(this.tenant, modelId, variantId) + name, size, `spill '${name}' of variant '${variantId}'`);
  }

  async deleteSpills(modelId: string, variantId: string): Promise<void> {
    await this.deleteBlobsUnder(spillBlobPrefix(this.tenant, modelId, variantId));
  }

  /** A variant's bytes written in parts (invisible until completed). */
  createVariantUpload(modelId: string, variantId: string): Promise<R2MultipartUpload> {
    return this.blobs.createMultipartUpload(variantBlobKey(this.tenant, modelId, variantId));
  }

  /** SHA-256 (hex) of the staged object, streamed through the digest: never held whole. */
  async stagedSha256(uploadId: string): Promise<string> {
    const obj = await this.openBlob(uploadBlobKey(this.tenant, uploadId), `upload '${uploadId}'`);
    const digest = new crypto.DigestStream("SHA-256");
    await obj.body.pipeTo(digest);
    return hexOf(await digest.digest);
  }

  /** Streams the staged object to the model's key (R2 checks the SHA-256 on the way), then drops the staged copy. */
  async promoteStagedModel(uploadId: string, modelId: string, sha256: string): Promise<void> {
    const obj = await this.openBlob(uploadBlobKey(this.tenant, uploadId), `upload '${uploadId}'`);
    await this.blobs.put(modelBlobKey(this.tenant, modelId), obj.body, { sha256, httpMetadata: { contentType: "application/octet-stream" } });
    await this.deleteStaged(uploadId);
  }

  async deleteStaged(uploadId: string): Promise<void> {
    await this.blobs.delete(uploadBlobKey(this.tenant, uploadId));
  }

  /**
   * Drops staged objects written before `before` (ms): past their upload's expiry, no record names them (a file of
   * external data never claimed by a model). One page of the listing per call bounds the work.
   */
  async sweepStaged(before: number): Promise<number> {
    const page = await this.blobs.list({ prefix: uploadBlobKey(this.tenant, "") });
    const stale = page.objects.filter((o) => o.uploaded.getTime() < before).map((o) => o.key);
    if (stale.length > 0) await this.blobs.delete(stale);
    return stale.length;
  }

  // The jobs working on a model (so that its deletion cancels them).

  async noteModelJob(modelId: string, jobId: string): Promise<void> {
    await this.records.put(modelJobKey(this.tenant, modelId, jobId), "");
  }

  async listModelJobs(modelId: string): Promise<string[]> {
    const prefix = modelJobPrefix(this.tenant, modelId);
    return (await this.listKeys(prefix)).map((k) => k.name.slice(prefix.length));
  }

  async forgetModelJob(modelId: string, jobId: string): Promise<void> {
    await this.records.delete(modelJobKey(this.tenant, modelId, jobId));
  }

  async forgetModelJobs(modelId: string): Promise<void> {
    const keys = await this.listKeys(modelJobPrefix(this.tenant, modelId));
    await Promise.all(keys.map((k) => this.records.delete(k.name)));
  }

  // Datasets.

  getDataset<D extends StoredDataset>(datasetId: string): Promise<D | null> {
    return this.records.get<D>(datasetRecordKey(this.tenant, datasetId), "json");
  }

  async putDataset(record: StoredDataset & SizeMetadata): Promise<void> {
    const metadata: SizeMetadata = { bytes: record.bytes };
    await this.records.put(datasetRecordKey(this.tenant, record.id), JSON.stringify(record), { metadata });
  }

  /** A page of datasets in id order: one KV list and one bulk read. */
  listDatasets<D extends StoredDataset>(cursor?: string, limit = MAX_PAGE): Promise<Page<D>> {
    return this.pageOfRecords<D>(datasetRecordPrefix(this.tenant), cursor, limit);
  }

  /** Record first, then bytes. */
  async deleteDataset(datasetId: string): Promise<void> {
    await this.records.delete(datasetRecordKey(this.tenant, datasetId));
    await this.blobs.delete(datasetBlobKey(this.tenant, datasetId));
  }

  async putDatasetBytes(datasetId: string, bytes: Uint8Array, sha256: string): Promise<void> {
    await this.blobs.put(datasetBlobKey(this.tenant, datasetId), bytes, { sha256 });
  }

  readDatasetBytes(datasetId: string): Promise<Uint8Array> {
    return this.readBlob(datasetBlobKey(this.tenant, datasetId), "dataset");
  }

  // Experiment names (the experiments themselves live in their Durable Objects; KV only lists their names).

  async putExperimentName(name: string, model: string): Promise<void> {
    await this.records.put(experimentRecordKey(this.tenant, name), JSON.stringify({ name, model }));
  }

  async listExperimentNames(): Promise<string[]> {
    const prefix = experimentRecordPrefix(this.tenant);
    return (await this.listKeys(prefix)).map((k) => k.name.slice(prefix.length));
  }

  /** A page of experiment names in name order. */
  async listExperimentNamePage(cursor?: string, limit = MAX_PAGE): Promise<Page<string>> {
    const prefix = experimentRecordPrefix(this.tenant);
    const page = await this.records.list({ prefix, cursor, limit: Math.min(limit, MAX_PAGE) });
    return { items: page.keys.map((k) => k.name.slice(prefix.length)), ...(page.list_complete ? {} : { cursor: page.cursor }) };
  }

  // Usage.

  /** Counted from listings: a few KV list calls per thousand things held, no read per item (but legacy records). */
  async usage(): Promise<TenantUsage> {
    const [models, variants, datasets, experiments, jobs, uploads] = await Promise.all([
      this.listKeys<SizeMetadata>(modelRecordPrefix(this.tenant)),
      this.listKeys<VariantSummary>(variantsPrefix(this.tenant)),
      this.listKeys<SizeMetadata>(datasetRecordPrefix(this.tenant)),
      this.listKeys(experimentRecordPrefix(this.tenant)),
      this.listKeys(jobPrefix(this.tenant)),
      this.listKeys<SizeMetadata>(uploadRecordPrefix(this.tenant)),
    ]);
    // Records written before their size was kept as metadata are read once here.
    const sizeOf = async (k: { name: string; metadata: SizeMetadata | undefined }) =>
      k.metadata?.bytes ?? (await this.records.get<SizeMetadata>(k.name, "json"))?.bytes ?? 0;
    const sizes = await Promise.all([...models, ...datasets].map(sizeOf));
    const variantsByModel = new Map<string, number>();
    const prefix = variantsPrefix(this.tenant);
    for (const k of variants) {
      const modelId = k.name.slice(prefix.length).split(":")[0]!;
      variantsByModel.set(modelId, (variantsByModel.get(modelId) ?? 0) + 1);
    }
    return {
      models: models.length,
      datasets: datasets.length,
      experiments: experiments.length,
      storedBytes:
        sizes.reduce((a, b) => a + b, 0) +
        variants.reduce((a, k) => a + (k.metadata?.bytes ?? 0), 0) +
        uploads.reduce((a, k) => a + (k.metadata?.bytes ?? 0), 0),
      openUploads: uploads.filter((k) => !k.metadata?.complete).length,
      runningJobs: new Set(jobs.map((k) => k.name.slice(k.name.lastIndexOf(":") + 1))).size,
      variantsByModel,
    };
  }

  /** Ids of the jobs noted and not yet forgotten (queued or running). */
  async unfinishedJobs(): Promise<string[]> {
    return (await this.listKeys(jobPrefix(this.tenant))).map((k) => k.name.slice(k.name.lastIndexOf(":") + 1));
  }

  async deleteExperimentName(name: string): Promise<void> {
    await this.records.delete(experimentRecordKey(this.tenant, name));
  }

  private async openBlob(key: string, what: string): Promise<R2ObjectBody> {
    const obj = await this.blobs.get(key);
    if (!obj) throw new DomainError("not_found", `${what} bytes are missing`);
    return obj;
  }

  private async readBlob(key: string, what: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.openBlob(key, what)).arrayBuffer());
  }

  /** One list call for the page's keys, one bulk read for their records (KV reads up to 100 keys at once). */
  private async pageOfRecords<T>(prefix: string, cursor: string | undefined, limit: number): Promise<Page<T>> {
    const page = await this.records.list({ prefix, cursor, limit: Math.min(Math.max(1, limit), MAX_PAGE) });
    const names = page.keys.map((k) => k.name);
    const values = names.length ? await this.records.get<T>(names, "json") : new Map<string, T | null>();
    const items = names.map((n) => values.get(n)).filter((r): r is T => r !== null && r !== undefined);
    return { items, ...(page.list_complete ? {} : { cursor: page.cursor }) };
  }

  private async listKeys<M>(prefix: string): Promise<{ name: string; metadata: M | undefined }[]> {
    const keys: { name: string; metadata: M | undefined }[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.records.list<M>({ prefix, cursor });
      for (const k of page.keys) keys.push({ name: k.name, metadata: k.metadata });
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return keys;
  }
}
