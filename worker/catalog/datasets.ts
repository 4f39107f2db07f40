// The dataset catalog: uploads (.npz/.npy) parsed and checked, then bytes to R2, then the record to KV;
// loading a stored dataset for calibration and evaluation; listing and deleting.
import { notFound } from "../domain-error";
import { parseDataset, summarizeArrays, type ArraySummary, type Dataset } from "../datasets/dataset";
import { sha256Hex } from "../store/body";
import type { StoredDataset } from "../store/records";
import type { Page, TenantStore } from "../store/tenant";
import { requireRoom } from "./quotas";

export interface DatasetRecord extends StoredDataset {
  id: string;
  name: string;
  sha256: string;
  bytes: number;
  format: "npz" | "npy";
  samples: number;
  arrays: ArraySummary[];
  hasLabels: boolean;
  createdAt: string;
}

/** Decompressed arrays are bounded so that a dataset and a model fit in one isolate together. */
export const MAX_DATASET_ARRAY_BYTES = 48 * 1024 * 1024;

const parse = (bytes: Uint8Array): Promise<Dataset> => parseDataset(bytes, MAX_DATASET_ARRAY_BYTES);

export async function registerDataset(
  store: TenantStore,
  bytes: Uint8Array,
  name: string | undefined,
): Promise<{ created: boolean; dataset: DatasetRecord }> {
  const sha256 = await sha256Hex(bytes);
  const id = sha256.slice(0, 24);
  const existing = await store.getDataset<DatasetRecord>(id);
  if (existing) return { created: false, dataset: existing };
  const d = await parse(bytes);
  await requireRoom(store, { datasets: 1, bytes: bytes.byteLength }, "delete a dataset or a model first");
  await store.putDatasetBytes(id, bytes, sha256);
  const record: DatasetRecord = {
    id,
    name: name ?? `dataset-${id.slice(0, 8)}`,
    sha256,
    bytes: bytes.byteLength,
    format: d.format,
    samples: d.samples,
    arrays: summarizeArrays(d),
    hasLabels: d.labels !== null,
    createdAt: new Date().toISOString(),
  };
  await store.putDataset(record);
  return { created: true, dataset: record };
}

export async function requireDataset(store: TenantStore, id: string): Promise<DatasetRecord> {
  const r = await store.getDataset<DatasetRecord>(id);
  if (!r) throw notFound("dataset", id);
  return r;
}

/** The stored dataset's arrays (parsed again from its bytes: records hold only the summary). */
export async function loadDataset(store: TenantStore, id: string): Promise<{ record: DatasetRecord; dataset: Dataset }> {
  const record = await requireDataset(store, id);
  return { record, dataset: await parse(await store.readDatasetBytes(id)) };
}

export function listDatasets(store: TenantStore, cursor?: string, limit?: number): Promise<Page<DatasetRecord>> {
  return store.listDatasets<DatasetRecord>(cursor, limit);
}

/** Record first, then bytes: nothing points at missing bytes. */
export async function deleteDataset(store: TenantStore, id: string): Promise<void> {
  await requireDataset(store, id);
  await store.deleteDataset(id);
}
