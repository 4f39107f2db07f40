// The dataset catalog: uploads (.npz/.npy) parsed and checked, then bytes to R2, then the record to KV;
// loading a stored dataset for calibration and evaluation; listing and deleting.
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { DatasetFormatError, parseDataset, summarizeArrays, type ArraySummary, type Dataset } from "../datasets/dataset";
import { datasetBlobKey, datasetRecordKey, datasetRecordPrefix } from "../store/keys";
import { sha256Hex } from "../store/body";
import { readBlob } from "./models";

export interface DatasetRecord {
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

async function parse(bytes: Uint8Array): Promise<Dataset> {
  try {
    return await parseDataset(bytes, MAX_DATASET_ARRAY_BYTES);
  } catch (err) {
    if (err instanceof DatasetFormatError) throw new ApiError(400, "invalid_dataset", err.message);
    if (err instanceof TypeError) throw new ApiError(400, "invalid_dataset", `not a readable .npz: ${err.message}`);
    throw err;
  }
}

export async function registerDataset(
  env: Env,
  tenant: string,
  bytes: Uint8Array,
  name: string | undefined,
): Promise<{ created: boolean; dataset: DatasetRecord }> {
  const sha256 = await sha256Hex(bytes);
  const id = sha256.slice(0, 24);
  const existing = await env.RECORDS.get<DatasetRecord>(datasetRecordKey(tenant, id), "json");
  if (existing) return { created: false, dataset: existing };
  const d = await parse(bytes);
  await env.BLOBS.put(datasetBlobKey(tenant, id), bytes, { sha256 });
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
  await env.RECORDS.put(datasetRecordKey(tenant, id), JSON.stringify(record));
  return { created: true, dataset: record };
}

export async function requireDataset(env: Env, tenant: string, id: string): Promise<DatasetRecord> {
  const r = await env.RECORDS.get<DatasetRecord>(datasetRecordKey(tenant, id), "json");
  if (!r) throw notFound("dataset", id);
  return r;
}

/** The stored dataset's arrays (parsed again from its bytes: records hold only the summary). */
export async function loadDataset(env: Env, tenant: string, id: string): Promise<{ record: DatasetRecord; dataset: Dataset }> {
  const record = await requireDataset(env, tenant, id);
  return { record, dataset: await parse(await readBlob(env, datasetBlobKey(tenant, id), "dataset")) };
}

export async function listDatasets(env: Env, tenant: string): Promise<DatasetRecord[]> {
  const out: DatasetRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.RECORDS.list({ prefix: datasetRecordPrefix(tenant), cursor });
    for (const k of page.keys) {
      const r = await env.RECORDS.get<DatasetRecord>(k.name, "json");
      if (r) out.push(r);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out;
}

/** Record first, then bytes: nothing points at missing bytes. */
export async function deleteDataset(env: Env, tenant: string, id: string): Promise<void> {
  await requireDataset(env, tenant, id);
  await env.RECORDS.delete(datasetRecordKey(tenant, id));
  await env.BLOBS.delete(datasetBlobKey(tenant, id));
}
