// The evaluation report of a compressed model against its FP32 original on one dataset: accuracy (with labels),
// top-1 agreement, per-output cosine and max abs error, per-layer SQNR, size, resident memory and batch-1 latency.
import type { ModelProto } from "onnx-buf";
import { decodeModel, encodeModel } from "../onnx/codec";
import { nodeLabel } from "../onnx/operators";
import { exposesConvIntoAdd, withExtraOutputs } from "../onnx/outputs";
import { weightedLayers } from "../compress/pipeline";
import type { Dataset } from "../datasets/dataset";
import { bindInputs, labelAt, sliceBatch } from "../datasets/dataset";
import type { ModelSummary } from "../onnx/validate";
import { openSession, type EngineName, type LoadedSession } from "../serve/sessions";
import { measureLatency, type Latency } from "./latency";
import { ErrorStats, TopOne } from "./error-stats";
import { forEachBatch } from "./runner";
import { DEFAULT_CONFIDENCE, pairedDropInterval, proportionInterval, type Interval } from "./intervals";

/** What an evaluation reads of the model: its input and output signatures. */
export type EvaluatedModel = Pick<ModelSummary, "inputs" | "outputs">;

export interface EvalReport {
  dataset: string;
  samples: number;
  /** The first row evaluated, where rows at the start were left out (EvalOptions.firstSample); absent: 0. */
  firstSample?: number;
  hasLabels: boolean;
  /** Top-1 accuracy of each, and the drop in percentage points; null without labels. */
  accuracy: { fp32: number; variant: number; drop: number } | null;
  /** Fraction of samples where the variant's top-1 equals the FP32 model's. */
  agreement: number;
  /**
   * Two-sided intervals at `confidence` for what the dataset can establish: the paired accuracy drop in points
   * (null without labels) and the agreement (null for outputs without a top-1, where agreement is the cosine).
   */
  intervals: { confidence: number; accuracyDrop: Interval | null; agreement: Interval | null };
  outputs: { name: string; cosine: number; maxAbsError: number }[];
  /** SQNR (dB) of each weighted layer's output against FP32's, on the same inputs; null when exact. */
  layers: { node: string; output: string; sqnrDb: number | null }[];
  bytes: number;
  fp32Bytes: number;
  compressionRatio: number;
  residentBytes: number;
  /** Median ms per batch-1 run on the serving engine (null where the isolate's clock could not resolve it). */
  latencyMs: { fp32: number | null; variant: number | null; runs: number };
  /** The engine that serves the variant, and the one that serves the FP32 original: every figure above is theirs. */
  engine: EngineName;
  fp32Engine: EngineName;
  evaluatedAt: string;
}

export interface EvalOptions {
  datasetId: string;
  samples?: number;
  /** Time spent timing each model's batch-1 latency, at most (ms). */
  latencyBudgetMs?: number;
  /** FP32's latency measured earlier on the same model (a search evaluates many candidates against one original). */
  fp32Latency?: Latency;
  /** Skip the per-layer and latency parts (the search and sensitivity sweeps only need the metrics). */
  quick?: boolean;
  /** Confidence level of the report's intervals (default 0.95). */
  confidence?: number;
  /**
   * Rows at the dataset's start left out: those a candidate was calibrated on (GPTQ, bias correction), whose fit to
   * them would flatter it. Default 0; the report's firstSample.
   */
  firstSample?: number;
}

export async function evaluateBytes(
  model: EvaluatedModel,
  fp32: Uint8Array,
  variant: Uint8Array,
  dataset: Dataset,
  options: EvalOptions,
): Promise<EvalReport> {
  const firstSample = Math.min(options.firstSample ?? 0, dataset.samples);
  const samples = Math.min(options.samples ?? dataset.samples, dataset.samples - firstSample);
  const outputNames = model.outputs.map((o) => o.name);
  const first = outputNames[0]!;
  const labels = dataset.labels;
  const outStats = new Map(outputNames.map((n) => [n, new ErrorStats()]));
  const top = new TopOne();
  let latency: EvalReport["latencyMs"] = { fp32: null, variant: null, runs: 0 };
  let served: { fp32Engine: EngineName; engine: EngineName; residentBytes: number };
  // Outputs, accuracy and latency come from the path that serves each model: the engine and graph inference uses
  // (the kernel engine quantizes activations where onnxruntime-web dequantizes weights, so their figures differ).
  const sessions: LoadedSession[] = [];
  try {
    const pa = await openSession(fp32, false, fp32.byteLength, true);
    sessions.push(pa);
    const pb = await openSession(variant, true, fp32.byteLength, true);
    sessions.push(pb);
    await forEachBatch([pa, pb], dataset, model.inputs, samples, (start, [ra, rb]) => {
      for (const n of outputNames) if (ra![n] && rb![n]) outStats.get(n)!.add(ra![n]!.data, rb![n]!.data);
      const logits = ra![first];
      if (logits && logits.dims.length === 2) {
        top.add(logits.data, rb![first]!.data, logits.dims[1]!, labels ? (r) => labelAt(dataset, start + r) : null);
      }
    }, "timed", firstSample);
    if (!options.quick) {
      const budgetMs = options.latencyBudgetMs ?? 2000;
      const feeds = sliceBatch(bindInputs(dataset, model.inputs), model.inputs, 0, 1);
      const fp32Latency = options.fp32Latency ?? (await measureLatency(() => pa.run(feeds), { budgetMs }));
      const variantLatency = await measureLatency(() => pb.run(feeds), { budgetMs });
      latency = { fp32: fp32Latency.ms, variant: variantLatency.ms, runs: Math.min(fp32Latency.runs, variantLatency.runs) };
    }
    served = { fp32Engine: pa.engine, engine: pb.engine, residentBytes: pb.residentBytes };
  } finally {
    for (const s of sessions.splice(0)) await s.release();
  }
  const layers = options.quick ? [] : await layerSqnr(model, fp32, variant, dataset, samples, firstSample);
  const accuracy =
    labels && top.rows > 0
      ? { fp32: top.refCorrect / top.rows, variant: top.gotCorrect / top.rows, drop: (100 * (top.refCorrect - top.gotCorrect)) / top.rows }
      : null;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const intervals = {
    confidence,
    accuracyDrop: accuracy ? pairedDropInterval({ n: top.rows, refOnly: top.refOnly, variantOnly: top.variantOnly }, confidence) : null,
    agreement: top.rows > 0 ? proportionInterval(top.agree, top.rows, confidence) : null,
  };
  return {
    dataset: options.datasetId,
    samples,
    ...(firstSample > 0 ? { firstSample } : {}),
    hasLabels: labels !== null,
    accuracy,
    agreement: top.rows > 0 ? top.agree / top.rows : outStats.get(first)!.cosine,
    intervals,
    outputs: outputNames.map((name) => ({ name, cosine: outStats.get(name)!.cosine, maxAbsError: outStats.get(name)!.maxAbsError })),
    layers,
    bytes: variant.byteLength,
    fp32Bytes: fp32.byteLength,
    compressionRatio: fp32.byteLength / variant.byteLength,
    residentBytes: served.residentBytes,
    latencyMs: latency,
    engine: served.engine,
    fp32Engine: served.fp32Engine,
    evaluatedAt: new Date().toISOString(),
  };
}

/**
 * SQNR of each weighted layer's output against FP32's on the same inputs. Intermediate tensors are read from
 * onnxruntime-web with the layers' outputs exposed: the kernel engine fuses them away.
 */
async function layerSqnr(model: EvaluatedModel, fp32: Uint8Array, variant: Uint8Array, dataset: Dataset, samples: number, first: number): Promise<EvalReport["layers"]> {
  // A trained variant may be another network (a distilled student) or name its tensors otherwise: only layer outputs
  // both graphs write are compared.
  const fp32Model = decodeModel(fp32);
  const variantModel = decodeModel(variant);
  const written = new Set(variantModel.graph!.node.flatMap((n) => n.output));
  const layerOutputs = layerOutputNames(fp32Model).filter((l) => written.has(l.output));
  if (layerOutputs.length === 0) return [];
  const extra = layerOutputs.map((l) => l.output).filter((o) => !model.outputs.some((m) => m.name === o));
  const expose = (decoded: ModelProto, bytes: Uint8Array) => (extra.length ? encodeModel(withExtraOutputs(decoded, extra)) : bytes);
  const layerStats = new Map(layerOutputs.map((l) => [l.output, new ErrorStats()]));
  const sessions: LoadedSession[] = [];
  try {
    sessions.push(await openSession(expose(fp32Model, fp32), false, fp32.byteLength, false, !exposesConvIntoAdd(fp32Model, extra)));
    sessions.push(await openSession(expose(variantModel, variant), true, fp32.byteLength, false, !exposesConvIntoAdd(variantModel, extra)));
    await forEachBatch(sessions, dataset, model.inputs, samples, (_start, [ra, rb]) => {
      for (const [o, st] of layerStats) if (ra![o] && rb![o] && ra![o]!.data.length === rb![o]!.data.length) st.add(ra![o]!.data, rb![o]!.data);
    }, "timed", first);
  } finally {
    for (const s of sessions) await s.release();
  }
  return layerOutputs.map((l) => ({ node: l.node, output: l.output, sqnrDb: layerStats.get(l.output)!.sqnrDb }));
}

/** Each weighted layer and the tensor it writes (a compressed variant keeps these names). */
function layerOutputNames(model: ModelProto): { node: string; output: string }[] {
  const graph = model.graph!;
  const layers = new Set(weightedLayers(model).map((l) => l.name));
  // A layer's first output it writes: an LSTM/GRU may omit Y (its output name "") and write only Y_h.
  return graph.node.flatMap((n) => {
    const output = n.output.find((o) => o !== "");
    return layers.has(nodeLabel(n)) && output !== undefined ? [{ node: nodeLabel(n), output }] : [];
  });
}
