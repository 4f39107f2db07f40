// The variant record the catalog stores: its summary and address (worker/store/records.ts) with the reports that
// compression and evaluation made of it.
import type { QuantizeResult, TensorReport } from "../compress/quantize";
import type { PruneResult } from "../compress/prune";
import type { ActivationReport } from "../compress/quantize/activations";
import type { BiasCorrectionReport } from "../compress/bias-correction";
import type { SmoothedActivation } from "../compress/smooth";
import type { EvalReport } from "../evaluate/report";
import type { SparseReport } from "../onnx/sparse";
import type { StoredVariant } from "../store/records";

export type { ModelRecord, VariantSummary } from "../store/records";

export interface VariantRecord extends StoredVariant {
  sha256: string;
  recipe: unknown;
  /** The engine that serves it, and the bytes it holds resident in an isolate when loaded. */
  engine: "kernels" | "onnxruntime-web";
  residentBytes: number;
  /** Of residentBytes, the kernel engine's packed weights (absent where onnxruntime-web serves it). */
  weightBytes?: number;
  tensors: TensorReport[];
  skipped: SkippedWeight[];
  /** Pruning's report: per-layer sparsity, caps and output change, warnings, layers left dense and why, tensors stored sparse. */
  prune?: PruneReport;
  /** Bytes at each stage of the pipeline (null for a stage the recipe skips) and on the wire. */
  stages?: VariantStages;
  /** Static scheme: the calibrated activation ranges and their uint8 parameters. */
  activations?: ActivationReport[];
  /** quantize.biasCorrection: the layers whose bias was shifted, and those left. */
  biasCorrection?: BiasCorrectionReport;
  /** quantize.smooth: the activations SmoothQuant rescaled. */
  smoothed?: SmoothedActivation[];
  /** The latest evaluation against FP32 (variant made with `eval`, or POST .../evaluate). */
  eval?: EvalReport;
  /** Why the Worker does not serve this variant (over the bound on what it serves): it is made to download. */
  notServed?: string;
}

/** A weight (or activation) compression left float, and why; `elements` where it names a tensor of the variant. */
export type SkippedWeight = QuantizeResult["skipped"][number] & { elements?: number };

export type PruneReport = Pick<PruneResult, "sparsity" | "layers" | "warnings"> & { skipped: SkippedWeight[]; sparseTensors: SparseReport[] };

export interface VariantStages {
  denseFp32: number;
  pruned: number | null;
  quantized: number | null;
  stored: number;
  encoded: { gzip: number; br: number };
}
