// The persisted shapes the store knows: the model record (its validated summary) and what every variant record
// carries (its summary, listed from KV metadata). The reports a variant record embeds belong to the catalog
// (worker/catalog/records.ts), which owns the full record.
import type { ModelSummary } from "../onnx/validate";

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

/** The part of a variant record the store reads: its address and its summary. */
export interface StoredVariant extends VariantSummary {
  modelId: string;
}

/** The part of a dataset record the store reads: its address. */
export interface StoredDataset {
  id: string;
}

/** A model upload in parts: its R2 multipart upload, and the sizes it was declared with (every part but the last is `partBytes`). */
export interface UploadRecord {
  id: string;
  multipartId: string;
  name?: string;
  totalBytes: number;
  partBytes: number;
  parts: number;
  createdAt: string;
  expiresAt: string;
  /** Set for a file of external data (not a model): the location the model's tensors name it by. */
  location?: string;
  /** When a file's parts were joined: it waits, until it expires, for the model that names it. */
  completedAt?: string;
  /** A model's external-data files, by their uploads' ids. */
  externalData?: string[];
}
