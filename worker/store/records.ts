// Model and variant records in KV. A record is written only after the bytes it points at are complete in R2.
import type { ModelSummary } from "../onnx/validate";
import type { QuantizeResult, TensorReport } from "../compress/quantize";
import type { PruneResult } from "../compress/prune";
import type { SparseReport } from "../onnx/sparse";
import type { ActivationReport } from "../compress/quantize/activations";
import type { EvalReport } from "../evaluate/report";
import type { Env } from "../env";
import { modelRecordKey, modelRecordPrefix, variantRecordKey, variantRecordPrefix } from "./keys";

export interface VariantSummary {
  id: string;
  bits: number;
  bytes: number;
  compressionRatio: number;
  createdAt: string;
}

/** A stored model: its content address and size next to the summary validation computed. */
export interface ModelRecord extends ModelSummary {
  id: string;
  name: string;
  sha256: string;
  bytes: number;
  createdAt: string;
}

export interface VariantRecord extends VariantSummary {
  modelId: string;
  sha256: string;
  recipe: unknown;
  /** The engine that serves it, and the bytes it holds resident in an isolate when loaded. */
  engine: "kernels" | "onnxruntime-web";
  residentBytes: number;
  tensors: TensorReport[];
  skipped: QuantizeResult["skipped"];
  /** Pruning's report: per-layer sparsity, caps and output change, warnings, layers left dense and why, tensors stored sparse. */
  prune?: PruneReport;
  /** Bytes at each stage of the pipeline (null for a stage the recipe skips) and on the wire. */
  stages?: VariantStages;
  /** Static scheme: the calibrated activation ranges and their uint8 parameters. */
  activations?: ActivationReport[];
  /** The latest evaluation against FP32 (variant made with `eval`, or POST .../evaluate). */
  eval?: EvalReport;
}

export type PruneReport = Pick<PruneResult, "sparsity" | "layers" | "skipped" | "warnings"> & { sparseTensors: SparseReport[] };

export interface VariantStages {
  denseFp32: number;
  pruned: number | null;
  quantized: number | null;
  stored: number;
  encoded: { gzip: number; br: number };
}

export async function getModelRecord(env: Env, tenant: string, modelId: string): Promise<ModelRecord | null> {
  return env.RECORDS.get<ModelRecord>(modelRecordKey(tenant, modelId), "json");
}

export async function putModelRecord(env: Env, tenant: string, record: ModelRecord): Promise<void> {
  await env.RECORDS.put(modelRecordKey(tenant, record.id), JSON.stringify(record));
}

async function listAll<M>(env: Env, prefix: string): Promise<{ name: string; metadata: M | undefined }[]> {
  const keys: { name: string; metadata: M | undefined }[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.RECORDS.list<M>({ prefix, cursor });
    for (const k of page.keys) keys.push({ name: k.name, metadata: k.metadata });
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return keys;
}

export async function listModelRecords(env: Env, tenant: string): Promise<ModelRecord[]> {
  const keys = await listAll(env, modelRecordPrefix(tenant));
  const records = await Promise.all(keys.map((k) => env.RECORDS.get<ModelRecord>(k.name, "json")));
  return records.filter((r): r is ModelRecord => r !== null);
}

export async function deleteModelRecord(env: Env, tenant: string, modelId: string): Promise<void> {
  await env.RECORDS.delete(modelRecordKey(tenant, modelId));
}

export async function getVariantRecord(
  env: Env,
  tenant: string,
  modelId: string,
  variantId: string,
): Promise<VariantRecord | null> {
  return env.RECORDS.get<VariantRecord>(variantRecordKey(tenant, modelId, variantId), "json");
}

/** The record carries its summary as KV metadata so that listing a model's variants is one call. */
export async function putVariantRecord(env: Env, tenant: string, record: VariantRecord): Promise<void> {
  const summary: VariantSummary = {
    id: record.id,
    bits: record.bits,
    bytes: record.bytes,
    compressionRatio: record.compressionRatio,
    createdAt: record.createdAt,
  };
  await env.RECORDS.put(variantRecordKey(tenant, record.modelId, record.id), JSON.stringify(record), {
    metadata: summary,
  });
}

export async function listVariantSummaries(env: Env, tenant: string, modelId: string): Promise<VariantSummary[]> {
  const keys = await listAll<VariantSummary>(env, variantRecordPrefix(tenant, modelId));
  return keys
    .map((k) => k.metadata)
    .filter((m): m is VariantSummary => m !== undefined)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
}

export async function deleteVariantRecords(env: Env, tenant: string, modelId: string): Promise<void> {
  const keys = await listAll(env, variantRecordPrefix(tenant, modelId));
  await Promise.all(keys.map((k) => env.RECORDS.delete(k.name)));
}
