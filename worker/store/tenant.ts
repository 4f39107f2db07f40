// One tenant's storage, bound once per request (or job run): R2 holds bytes, KV holds the records that point at
// them, and the key scheme (./keys.ts) stays inside this folder. A record is written only after the bytes it
// points at are complete in R2; removals go records first, so nothing points at missing bytes.
import { DomainError } from "../domain-error";
import {
  datasetBlobKey,
  datasetRecordKey,
  datasetRecordPrefix,
  experimentRecordKey,
  experimentRecordPrefix,
  modelBlobKey,
  modelJobKey,
  modelJobPrefix,
  modelRecordKey,
  modelRecordPrefix,
  variantBlobKey,
  variantBlobPrefix,
  variantRecordKey,
  variantRecordPrefix,
} from "./keys";
import type { ModelRecord, StoredDataset, StoredVariant, VariantSummary } from "./records";

/** The two bindings a tenant's store is made of. */
export interface StoreBindings {
  BLOBS: R2Bucket;
  RECORDS: KVNamespace;
}

export class TenantStore {
  constructor(
    private readonly bindings: StoreBindings,
    readonly tenant: string,
  ) {}

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
    await this.records.put(modelRecordKey(this.tenant, record.id), JSON.stringify(record));
  }

  async listModels(): Promise<ModelRecord[]> {
    const keys = await this.listKeys(modelRecordPrefix(this.tenant));
    const records = await Promise.all(keys.map((k) => this.records.get<ModelRecord>(k.name, "json")));
    return records.filter((r): r is ModelRecord => r !== null);
  }

  async deleteModelRecord(modelId: string): Promise<void> {
    await this.records.delete(modelRecordKey(this.tenant, modelId));
  }

  async putModelBytes(modelId: string, bytes: Uint8Array, sha256: string): Promise<void> {
    await this.blobs.put(modelBlobKey(this.tenant, modelId), bytes, { sha256, httpMetadata: { contentType: "application/octet-stream" } });
  }

  /** `what` names the bytes in the not-found message ("model bytes are missing"). */
  readModelBytes(modelId: string, what = "model"): Promise<Uint8Array> {
    return this.readBlob(modelBlobKey(this.tenant, modelId), what);
  }

  openModelBytes(modelId: string): Promise<R2ObjectBody> {
    return this.openBlob(modelBlobKey(this.tenant, modelId), "model");
  }

  /** The model's bytes and those of all its variants. */
  async deleteModelBytes(modelId: string): Promise<void> {
    const prefix = variantBlobPrefix(this.tenant, modelId);
    let cursor: string | undefined;
    do {
      const page = await this.blobs.list({ prefix, cursor });
      if (page.objects.length > 0) await this.blobs.delete(page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    await this.blobs.delete(modelBlobKey(this.tenant, modelId));
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

  // The jobs working on a model (so that its deletion cancels them).

  async noteModelJob(modelId: string, jobId: string): Promise<void> {
    await this.records.put(modelJobKey(this.tenant, modelId, jobId), "");
  }

  async listModelJobs(modelId: string): Promise<string[]> {
    const prefix = modelJobPrefix(this.tenant, modelId);
    return (await this.listKeys(prefix)).map((k) => k.name.slice(prefix.length));
  }

  async forgetModelJobs(modelId: string): Promise<void> {
    const keys = await this.listKeys(modelJobPrefix(this.tenant, modelId));
    await Promise.all(keys.map((k) => this.records.delete(k.name)));
  }

  // Datasets.

  getDataset<D extends StoredDataset>(datasetId: string): Promise<D | null> {
    return this.records.get<D>(datasetRecordKey(this.tenant, datasetId), "json");
  }

  async putDataset(record: StoredDataset): Promise<void> {
    await this.records.put(datasetRecordKey(this.tenant, record.id), JSON.stringify(record));
  }

  async listDatasets<D extends StoredDataset>(): Promise<D[]> {
    const out: D[] = [];
    for (const k of await this.listKeys(datasetRecordPrefix(this.tenant))) {
      const r = await this.records.get<D>(k.name, "json");
      if (r) out.push(r);
    }
    return out;
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
