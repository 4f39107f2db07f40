// Per-layer sensitivity: quantize one weighted layer at a time (at each bit-width asked, everything else float),
// evaluate against FP32 on a dataset and rank layers by the accuracy (or agreement) they cost.
// The sweep axis is open: a pruning sweep adds its own candidates the same way.
import { RecipeSchema } from "../compress/recipe";
import { weightedLayers } from "../compress/pipeline";
import { compressModelBytes, type Progress } from "../catalog/variants";
import { parseModelBytes } from "../catalog/models";
import type { Dataset } from "../datasets/dataset";
import { ApiError } from "../errors";
import { evaluateBytes } from "../evaluate/report";
import type { ModelRecord } from "../store/records";

export type SensitivityMetric = "accuracy" | "agreement" | "cosine";

export interface LayerSensitivity {
  node: string;
  op: string;
  bits: number;
  accuracy: number | null;
  agreement: number;
  cosine: number;
  /** What quantizing this layer alone costs in the metric: accuracy points, or (1 - agreement/cosine) x 100. */
  cost: number;
}

export interface SensitivityReport {
  dataset: string;
  metric: SensitivityMetric;
  baseline: { accuracy: number | null };
  layers: LayerSensitivity[];
}

export async function layerSensitivity(
  model: ModelRecord,
  original: Uint8Array,
  dataset: Dataset,
  options: { datasetId: string; bits: number[]; metric?: SensitivityMetric; samples?: number },
  progress: Progress,
): Promise<SensitivityReport> {
  const metric = options.metric ?? (dataset.labels ? "accuracy" : "agreement");
  if (metric === "accuracy" && !dataset.labels) throw new ApiError(400, "invalid_request", "metric 'accuracy' needs a dataset with labels");
  const layers = weightedLayers(parseModelBytes(original));
  const names = layers.map((l) => l.name);
  const results: LayerSensitivity[] = [];
  let baseline: number | null = null;
  const total = layers.length * options.bits.length;
  for (const bits of options.bits) {
    for (const layer of layers) {
      const parsed = RecipeSchema.safeParse({ quantize: { bits, exclude: names.filter((n) => n !== layer.name) } });
      if (!parsed.success) throw new ApiError(400, "invalid_request", `bits ${bits} is not a supported bit-width`);
      const { bytes } = compressModelBytes(original, parsed.data);
      const r = await evaluateBytes(model, original, bytes, dataset, { datasetId: options.datasetId, samples: options.samples, quick: true });
      baseline = r.accuracy?.fp32 ?? null;
      const cosine = r.outputs[0]?.cosine ?? 1;
      const cost = metric === "accuracy" ? r.accuracy!.drop : metric === "agreement" ? (1 - r.agreement) * 100 : (1 - cosine) * 100;
      results.push({ node: layer.name, op: layer.op, bits, accuracy: r.accuracy?.variant ?? null, agreement: r.agreement, cosine, cost });
      await progress("sweeping", results.length / total);
    }
  }
  results.sort((a, b) => b.cost - a.cost || a.node.localeCompare(b.node));
  return { dataset: options.datasetId, metric, baseline: { accuracy: baseline }, layers: results };
}
