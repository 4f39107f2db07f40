// Per-layer sensitivity: compress one weighted layer at a time (quantized at each bit-width asked, or pruned at each
// sparsity asked; everything else float and dense), evaluate against FP32 on a dataset and rank the rows of both
// sweeps together by the accuracy (or agreement) they cost.
import { RecipeSchema, type PruneRecipe, type Recipe } from "../compress/recipe";
import { weightedLayers } from "../compress/pipeline";
import { compressModelBytes, type Progress } from "../catalog/variants";
import { parseModelBytes } from "../catalog/models";
import type { Dataset } from "../datasets/dataset";
import { DomainError } from "../domain-error";
import { evaluateBytes } from "../evaluate/report";
import type { ModelRecord } from "../catalog/records";

export type SensitivityMetric = "accuracy" | "agreement" | "cosine";

export interface LayerSensitivity {
  node: string;
  op: string;
  /** Quantization rows: the bit-width this layer alone was quantized to. */
  bits?: number;
  /** Pruning rows: the sparsity this layer alone was pruned to (of weights; of output channels for `channel`). */
  sparsity?: number;
  accuracy: number | null;
  agreement: number;
  cosine: number;
  /** What compressing this layer alone costs in the metric: accuracy points, or (1 - agreement/cosine) x 100. */
  cost: number;
}

export interface SensitivityReport {
  dataset: string;
  metric: SensitivityMetric;
  baseline: { accuracy: number | null };
  layers: LayerSensitivity[];
}

export interface SensitivityOptions {
  datasetId: string;
  bits?: number[];
  sparsities?: number[];
  /** Pruning structure of the sparsity sweep (N:M fixes its own sparsity, so it has no sweep). */
  structure?: PruneRecipe["structure"];
  metric?: SensitivityMetric;
  samples?: number;
}

/** The recipe that prunes one layer (by its weight's name: always an initializer) and leaves every other dense. */
export function singleLayerPrune(weights: string[], weight: string, sparsity: number, structure: PruneRecipe["structure"] = "unstructured"): unknown {
  return { prune: { sparsity: 0, scope: "per-layer", structure, overrides: { [weight]: sparsity }, exclude: weights.filter((w) => w !== weight) } };
}

export async function layerSensitivity(
  model: ModelRecord,
  original: Uint8Array,
  dataset: Dataset,
  options: SensitivityOptions,
  progress: Progress,
): Promise<SensitivityReport> {
  const metric = options.metric ?? (dataset.labels ? "accuracy" : "agreement");
  if (metric === "accuracy" && !dataset.labels) throw new DomainError("invalid_request", "metric 'accuracy' needs a dataset with labels");
  const layers = weightedLayers(parseModelBytes(original));
  const names = layers.map((l) => l.name);
  const weights = [...new Set(layers.map((l) => l.weight))];
  const bits = options.bits ?? [];
  const sparsities = options.sparsities ?? [];
  const results: LayerSensitivity[] = [];
  let baseline: number | null = null;
  const total = layers.length * (bits.length + sparsities.length);
  const measure = async (layer: (typeof layers)[number], recipe: Recipe, axis: { bits: number } | { sparsity: number }) => {
    const { bytes } = compressModelBytes(original, recipe);
    const r = await evaluateBytes(model, original, bytes, dataset, { datasetId: options.datasetId, samples: options.samples, quick: true });
    baseline = r.accuracy?.fp32 ?? null;
    const cosine = r.outputs[0]?.cosine ?? 1;
    const cost = metric === "accuracy" ? r.accuracy!.drop : metric === "agreement" ? (1 - r.agreement) * 100 : (1 - cosine) * 100;
    results.push({ node: layer.name, op: layer.op, ...axis, accuracy: r.accuracy?.variant ?? null, agreement: r.agreement, cosine, cost });
    await progress("sweeping", results.length / total);
  };
  for (const b of bits) {
    for (const layer of layers) {
      const parsed = RecipeSchema.safeParse({ quantize: { bits: b, exclude: names.filter((n) => n !== layer.name) } });
      if (!parsed.success) throw new DomainError("invalid_request", `bits ${b} is not a supported bit-width`);
      await measure(layer, parsed.data, { bits: b });
    }
  }
  for (const sparsity of sparsities) {
    for (const layer of layers) {
      const parsed = RecipeSchema.safeParse(singleLayerPrune(weights, layer.weight, sparsity, options.structure));
      if (!parsed.success) throw new DomainError("invalid_request", `sparsity ${sparsity} with this structure is not a valid prune recipe`);
      await measure(layer, parsed.data, { sparsity });
    }
  }
  // Most costly first; ties in a stable order (node, then quantization rows by width, pruning rows by sparsity).
  results.sort((a, b) => b.cost - a.cost || a.node.localeCompare(b.node) || (a.sparsity ?? -1) - (b.sparsity ?? -1) || (b.bits ?? 0) - (a.bits ?? 0));
  return { dataset: options.datasetId, metric, baseline: { accuracy: baseline }, layers: results };
}
