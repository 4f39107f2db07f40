// Pruning search: allocates per-layer sparsity to meet an accuracy (or agreement/cosine) target with the smallest
// transfer size. A one-layer-at-a-time sweep prices each step of a sparsity ladder per layer; then, greedily, the
// step that costs the least metric per weight removed is taken while the evaluated target still holds (a layer whose
// step breaks it stays where it is). Survivors are optionally quantized. Only the winner is stored.
import { z } from "@hono/zod-openapi";
import { buildVariant, storeEvaluatedVariant, type BuiltVariant, type Progress } from "../catalog/variants";
import type { TenantStore } from "../store/tenant";
import { parseModelBytes } from "../catalog/models";
import { weightedLayers } from "../compress/pipeline";
import { RecipeSchema, SweepStructureSchema, type Recipe } from "../compress/recipe";
import type { Dataset } from "../datasets/dataset";
import { DomainError } from "../domain-error";
import { evaluateBytes, type EvalReport } from "../evaluate/report";
import { tensorDims } from "../onnx/tensor";
import type { ModelRecord } from "../catalog/records";
import { meets, traceFigures, type Objective, type SearchResult, type Target, type TraceEntry } from "./outcome";
import { layerSensitivity } from "./sensitivity";

/** The default sparsity ladder: coarse steps, finer where int8 + entropy coding starts to pay off most. */
const DEFAULT_LADDER = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95];

export const PruneSearchSchema = z
  .object({
    structure: SweepStructureSchema.default("unstructured").describe("Structure every layer is pruned with"),
    quantize: z
      .object({ bits: z.union([z.literal(16), z.literal(8), z.literal(4), z.literal(2)]) })
      .strict()
      .optional()
      // Ternary (2) keeps pruned zeros at 0; binary (1) would turn them into +-scale, so it is not offered.
      .describe("Quantize the survivors (weight-only) in every candidate"),
    sparsities: z
      .array(z.number().gt(0).max(0.99))
      .min(1)
      .max(10)
      .overwrite((s) => [...new Set(s)].sort((x, y) => x - y))
      .optional()
      .describe(`Sparsity ladder each layer climbs (default ${JSON.stringify(DEFAULT_LADDER)})`),
  })
  .strict()
  .openapi("PruneSearch");

type PruneSearch = z.output<typeof PruneSearchSchema>;

/** What a pruning search reads of the search request (tune/search.ts SearchRequest). */
export interface PruneSearchRequest {
  target: Target;
  objective: Objective;
  dataset: string;
  samples?: number;
  confidence: number;
  prune?: PruneSearch;
}

function candidateRecipe(spec: PruneSearch, overrides: Record<string, number>): Recipe {
  const prune = Object.keys(overrides).length > 0 ? { sparsity: 0, scope: "per-layer", structure: spec.structure, overrides } : undefined;
  const parsed = RecipeSchema.safeParse({ prune, quantize: spec.quantize });
  if (!parsed.success) throw new DomainError("invalid_request", `pruning search: ${parsed.error.issues[0]?.message ?? "invalid candidate"}`);
  return parsed.data;
}

export async function searchPruning(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  dataset: Dataset,
  request: PruneSearchRequest,
  progress: Progress,
): Promise<SearchResult> {
  // searchVariant has checked the target against the dataset's labels before handing over.
  const spec = request.prune!;
  const ladder = spec.sparsities ?? DEFAULT_LADDER;
  const parsedModel = parseModelBytes(original);
  const inits = new Map(parsedModel.graph!.initializer.map((t) => [t.name, t]));
  const layers = weightedLayers(parsedModel);
  // One entry per weight (a shared weight is pruned once); its size weighs what a step removes.
  const weights = [...new Set(layers.map((l) => l.weight))].map((name) => ({
    name,
    nodes: layers.filter((l) => l.weight === name).map((l) => l.name),
    elements: tensorDims(inits.get(name)!).reduce((a, b) => a * b, 1),
  }));
  const metric = request.target.maxAccuracyDrop !== undefined ? "accuracy" : request.target.minAgreement !== undefined ? "agreement" : "cosine";

  // 1. Price every ladder step of every layer alone (pruned only: quantization costs the same in every candidate).
  const sweep = await layerSensitivity(
    model,
    original,
    dataset,
    { datasetId: request.dataset, sparsities: ladder, structure: spec.structure, metric, samples: request.samples },
    (_stage, p) => progress("sweeping", p * 0.4),
  );
  const costOf = (w: (typeof weights)[number], sparsity: number) =>
    Math.max(0, ...sweep.layers.filter((r) => r.sparsity === sparsity && w.nodes.includes(r.node)).map((r) => r.cost));

  // 2. Climb greedily, evaluating every cumulative candidate against the target.
  const evalOptions = { datasetId: request.dataset, samples: request.samples, quick: true, confidence: request.confidence };
  const trace: TraceEntry[] = [];
  const tried: { built: BuiltVariant; report: EvalReport }[] = [];
  const maxTries = 1 + weights.length * ladder.length;
  const tryCandidate = async (overrides: Record<string, number>) => {
    const recipe = candidateRecipe(spec, overrides);
    const built = await buildVariant(store, model, recipe, original);
    const report = await evaluateBytes(model, original, built.bytes, dataset, evalOptions);
    const ok = meets(request.target, report);
    trace.push({
      recipe,
      bytes: built.bytes.byteLength,
      transferBytes: built.record.stages!.encoded.br,
      sparsity: built.record.prune?.sparsity ?? 0,
      compressionRatio: report.compressionRatio,
      latencyMs: report.latencyMs.variant,
      ...traceFigures(report),
      meetsTarget: ok,
    });
    if (ok) tried.push({ built, report });
    await progress("searching", 0.4 + 0.5 * Math.min(1, trace.length / maxTries));
    return ok;
  };

  const level = new Map(weights.map((w) => [w.name, -1]));
  const overridesOf = () => Object.fromEntries(weights.filter((w) => level.get(w.name)! >= 0).map((w) => [w.name, ladder[level.get(w.name)!]!]));
  // The unpruned start (only when it is a variant at all, i.e. quantized): if it misses, pruning will not help.
  const startOk = spec.quantize ? await tryCandidate({}) : true;
  const climbing = new Set(startOk ? weights.map((w) => w.name) : []);
  while (climbing.size > 0) {
    const steps = weights
      .filter((w) => climbing.has(w.name))
      .map((w) => {
        const from = level.get(w.name)!;
        const removed = w.elements * (ladder[from + 1]! - (from < 0 ? 0 : ladder[from]!));
        return { w, next: from + 1, removed, price: costOf(w, ladder[from + 1]!) / removed };
      })
      .sort((a, b) => a.price - b.price || b.removed - a.removed || a.w.name.localeCompare(b.w.name));
    const step = steps[0]!;
    const before = level.get(step.w.name)!;
    level.set(step.w.name, step.next);
    if (await tryCandidate(overridesOf())) {
      if (step.next === ladder.length - 1) climbing.delete(step.w.name);
    } else {
      level.set(step.w.name, before);
      climbing.delete(step.w.name);
    }
  }

  // 3. The smallest on the wire among those meeting the target, evaluated in full and stored.
  tried.sort((a, b) => a.built.record.stages!.encoded.br - b.built.record.stages!.encoded.br || a.built.bytes.byteLength - b.built.bytes.byteLength);
  const best = tried[0];
  if (!best) return { met: false, target: request.target, confidence: request.confidence, objective: request.objective, variant: null, trace };
  await progress("storing", 0.95);
  const report = await evaluateBytes(model, original, best.built.bytes, dataset, { datasetId: request.dataset, samples: request.samples, latencyBudgetMs: 800 });
  const variant = await storeEvaluatedVariant(store, best.built, report);
  return { met: true, target: request.target, confidence: request.confidence, objective: request.objective, variant, trace };
}
