// The evaluation report of a compressed model against its FP32 original on one dataset: accuracy (with labels),
// top-1 agreement, per-output cosine and max abs error, per-layer SQNR, size, resident memory and batch-1 latency.
import { decodeModel, encodeModel } from "../onnx/codec";
import { withExtraOutputs } from "../onnx/outputs";
import { weightedLayers } from "../compress/pipeline";
import type { Dataset } from "../datasets/dataset";
import { labelAt, sliceBatch } from "../datasets/dataset";
import type { ModelRecord } from "../store/records";
import { openSession, type LoadedSession } from "../serve/sessions";
import { measureLatency, type Latency } from "./latency";
import { ErrorStats, TopOne } from "./metrics";
import { bindOrThrow, forEachBatch } from "./runner";

export interface EvalReport {
  dataset: string;
  samples: number;
  hasLabels: boolean;
  /** Top-1 accuracy of each, and the drop in percentage points; null without labels. */
  accuracy: { fp32: number; variant: number; drop: number } | null;
  /** Fraction of samples where the variant's top-1 equals the FP32 model's. */
  agreement: number;
  outputs: { name: string; cosine: number; maxAbsError: number }[];
  /** SQNR (dB) of each weighted layer's output against FP32's, on the same inputs; null when exact. */
  layers: { node: string; output: string; sqnrDb: number | null }[];
  bytes: number;
  fp32Bytes: number;
  compressionRatio: number;
  residentBytes: number;
  /** Median ms per batch-1 run on the serving engine (null where the isolate's clock could not resolve it). */
  latencyMs: { fp32: number | null; variant: number | null; runs: number };
  engine: string;
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
}

export async function evaluateBytes(
  model: ModelRecord,
  fp32: Uint8Array,
  variant: Uint8Array,
  dataset: Dataset,
  options: EvalOptions,
): Promise<EvalReport> {
  const samples = Math.min(options.samples ?? dataset.samples, dataset.samples);
  const layerOutputs = options.quick ? [] : layerOutputNames(fp32);
  const extra = layerOutputs.map((l) => l.output).filter((o) => !model.outputs.some((m) => m.name === o));
  const expose = (bytes: Uint8Array) => (extra.length ? encodeModel(withExtraOutputs(decodeModel(bytes), extra)) : bytes);
  const sessions: LoadedSession[] = [];
  try {
    const a = await openSession(expose(fp32), false, fp32.byteLength);
    sessions.push(a);
    const b = await openSession(expose(variant), true, fp32.byteLength);
    sessions.push(b);
    const outputNames = model.outputs.map((o) => o.name);
    const outStats = new Map(outputNames.map((n) => [n, new ErrorStats()]));
    const layerStats = new Map(layerOutputs.map((l) => [l.output, new ErrorStats()]));
    const top = new TopOne();
    const first = outputNames[0]!;
    const labels = dataset.labels;
    await forEachBatch([a, b], dataset, model.inputs, samples, (start, [ra, rb]) => {
      for (const n of outputNames) if (ra![n] && rb![n]) outStats.get(n)!.add(ra![n]!.data, rb![n]!.data);
      for (const [o, st] of layerStats) if (ra![o] && rb![o]) st.add(ra![o]!.data, rb![o]!.data);
      const logits = ra![first];
      if (logits && logits.dims.length === 2) {
        top.add(logits.data, rb![first]!.data, logits.dims[1]!, labels ? (r) => labelAt(dataset, start + r) : null);
      }
    });
    let latency: EvalReport["latencyMs"] = { fp32: null, variant: null, runs: 0 };
    let serving: LoadedSession = b;
    if (!options.quick) {
      const budgetMs = options.latencyBudgetMs ?? 2000;
      const feeds = sliceBatch(bindOrThrow(dataset, model.inputs), model.inputs, 0, 1);
      // Latency on the serving configuration: plain graphs (no extra outputs) on the engine that serves them.
      let fp32Latency = options.fp32Latency;
      if (!fp32Latency) {
        const pa = await openSession(fp32, false, fp32.byteLength, true);
        sessions.push(pa);
        fp32Latency = await measureLatency(() => pa.run(feeds), { budgetMs });
      }
      const pb = await openSession(variant, true, fp32.byteLength, true);
      sessions.push(pb);
      serving = pb;
      const variantLatency = await measureLatency(() => pb.run(feeds), { budgetMs });
      latency = { fp32: fp32Latency.ms, variant: variantLatency.ms, runs: Math.min(fp32Latency.runs, variantLatency.runs) };
    }
    const accuracy =
      labels && top.rows > 0
        ? { fp32: top.refCorrect / top.rows, variant: top.gotCorrect / top.rows, drop: (100 * (top.refCorrect - top.gotCorrect)) / top.rows }
        : null;
    return {
      dataset: options.datasetId,
      samples,
      hasLabels: labels !== null,
      accuracy,
      agreement: top.rows > 0 ? top.agree / top.rows : outStats.get(first)!.cosine,
      outputs: outputNames.map((name) => ({ name, cosine: outStats.get(name)!.cosine, maxAbsError: outStats.get(name)!.maxAbsError })),
      layers: layerOutputs.map((l) => ({ node: l.node, output: l.output, sqnrDb: layerStats.get(l.output)!.sqnrDb })),
      bytes: variant.byteLength,
      fp32Bytes: fp32.byteLength,
      compressionRatio: fp32.byteLength / variant.byteLength,
      residentBytes: serving.residentBytes,
      latencyMs: latency,
      engine: serving.engine,
      evaluatedAt: new Date().toISOString(),
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Each weighted layer and the tensor it writes (a variant keeps these names, so both graphs expose them). */
function layerOutputNames(bytes: Uint8Array): { node: string; output: string }[] {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const layers = new Set(weightedLayers(model).map((l) => l.name));
  return graph.node.filter((n) => layers.has(n.name || n.output[0] || n.opType)).map((n) => ({ node: n.name || n.output[0]!, output: n.output[0]! }));
}
