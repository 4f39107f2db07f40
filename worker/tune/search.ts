// Accuracy-targeted search: tries recipes in order (int8 weight-only, int8 dynamic, each lower bit-width the recipe
// schema accepts, at 4 bits with clipped scales where absmax's miss, with GPTQ rounding (at 2 bits on INT2's four
// levels, and judged on the rows after those it was calibrated on) where nearest misses and
// GPTQ plus bias correction where that misses too —
// blocked widths with coarser blocks while they pass — then
// mixed precision keeping the most sensitive layers wider), evaluates each against FP32 and keeps the smallest (or
// fastest) that meets the target.
// Only the winner is stored, with its evaluation.
import { z } from "@hono/zod-openapi";
import { acceptedBits, recipeBits, RecipeSchema, type Recipe } from "../compress/recipe";
import { PruneSearchSchema, searchPruning } from "./prune-search";
import { checkDecidable, ConfidenceSchema, meets, TargetSchema, traceFigures, type SearchResult, type TraceEntry } from "./outcome";
import { weightedLayers } from "../compress/pipeline";
import { hessianTargets } from "../compress/calibrate/hessian";
import { buildVariant, storeEvaluatedVariant, type Progress } from "../catalog/variants";
import type { TenantStore } from "../store/tenant";
import { parseModelBytes } from "../catalog/models";
import type { Dataset } from "../datasets/dataset";
import { DomainError } from "../domain-error";
import { evaluateBytes, type EvalOptions, type EvalReport } from "../evaluate/report";
import { pickBest } from "./winner";
import type { ModelRecord } from "../catalog/records";

export const SearchRequestSchema = z
  .object({
    target: TargetSchema,
    objective: z.enum(["smallest", "fastest"]).default("smallest"),
    dataset: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits").describe("Evaluation dataset"),
    samples: z.number().int().min(1).max(100000).optional(),
    confidence: ConfidenceSchema,
    prune: PruneSearchSchema.optional().describe("Search per-layer sparsity instead of bit-widths (see the pruning section)"),
  })
  .strict()
  .refine((r) => r.prune === undefined || r.objective === "smallest", {
    message: "a pruning search minimises the transfer size: objective must be 'smallest'",
    path: ["objective"],
  })
  .openapi("SearchRequest");

export type SearchRequest = z.infer<typeof SearchRequestSchema>;
export { TargetSchema };
export type { SearchResult, TraceEntry };

/** The coarsest int4 block the search tries (one scale per 256 inputs keeps scale overhead near 3%). */
const MAX_SEARCH_BLOCK = 256;

/** The first spelling of a candidate the recipe schema accepts (e.g. int4 with blocks, else plain int4). */
function candidate(...spellings: unknown[]): Recipe | null {
  for (const s of spellings) {
    const p = RecipeSchema.safeParse({ quantize: s });
    if (p.success) return p.data;
  }
  return null;
}

export async function searchVariant(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  dataset: Dataset,
  request: SearchRequest,
  progress: Progress,
): Promise<SearchResult> {
  if (request.target.maxAccuracyDrop !== undefined && !dataset.labels) {
    throw new DomainError("invalid_request", "target maxAccuracyDrop needs a dataset with labels; use minAgreement or minCosine");
  }
  checkDecidable(request.target, Math.min(request.samples ?? dataset.samples, dataset.samples), request.confidence);
  if (request.prune) return searchPruning(store, model, original, dataset, request, progress);
  const evalOptions: EvalOptions = { datasetId: request.dataset, samples: request.samples, latencyBudgetMs: 800, confidence: request.confidence };
  const trace: TraceEntry[] = [];
  const tried = new Map<string, { built: Awaited<ReturnType<typeof buildVariant>>; report: EvalReport }>();
  const tryRecipe = async (recipe: Recipe, share: number) => {
    const built = await buildVariant(store, model, recipe, original);
    // A candidate calibrated on this dataset (GPTQ, bias correction) is judged on the rows after those it was fitted
    // to: on them it looked better than on images it never saw (an INT2 GPTQ candidate of the MNIST MLP dropped 0.40
    // points on the search's 1000 images, 1.05 on 2000 held-out ones).
    const calibration = recipe.quantize && "calibration" in recipe.quantize ? recipe.quantize.calibration : undefined;
    const firstSample = calibration?.dataset === request.dataset ? calibration.samples : 0;
    const report = await evaluateBytes(model, original, built.bytes, dataset, { ...evalOptions, firstSample });
    // The original is timed once; every candidate is compared with that figure.
    evalOptions.fp32Latency ??= { ms: report.latencyMs.fp32, runs: report.latencyMs.runs };
    const ok = meets(request.target, report);
    trace.push({
      recipe,
      bytes: built.bytes.byteLength,
      compressionRatio: report.compressionRatio,
      latencyMs: report.latencyMs.variant,
      ...traceFigures(report),
      meetsTarget: ok,
    });
    tried.set(built.record.id, { built, report });
    await progress("searching", Math.min(0.9, share));
    return { ok, report, id: built.record.id, bytes: built.bytes.byteLength };
  };
  const smallestPassing = () =>
    Math.min(...[...tried.values()].filter((t) => meets(request.target, t.report)).map((t) => t.built.bytes.byteLength));

  const lower = acceptedBits().filter((b) => b < 8).sort((a, b) => b - a);
  const uniform = [
    candidate({ bits: 8 }),
    candidate({ bits: 8, scheme: "dynamic" }),
    ...lower.map((b) => candidate({ bits: b, granularity: { block: 32 } }, { bits: b })),
  ].filter((r): r is Recipe => r !== null);
  let narrowestFailing: { recipe: Recipe; bytes: number } | null = null;
  const passedBits = new Set<number>();
  // GPTQ rounding (same size, Hessians from the search's dataset) is tried where nearest rounding misses, on models
  // with MatMul/Gemm layers it can compensate.
  const parsed = parseModelBytes(original);
  const compensable = hessianTargets(parsed).length > 0;
  // At 2 bits on INT2's four levels: GPTQ there drops less than on ternary levels on four of the five reference models,
  // and GPTQ with bias correction on all five (docs/quantization.md); ternary's nearest rounding is the better one on the CNNs.
  // Calibration takes the dataset's first rows (256, the recipes' default, or half a smaller dataset), and a calibrated
  // candidate is judged on the rest.
  const calibrationSamples = Math.max(1, Math.min(256, Math.floor(dataset.samples / 2)));
  const compensated = (r: Recipe) =>
    compensable && recipeBits(r) < 8
      ? candidate({ ...r.quantize, ...(recipeBits(r) === 2 ? { grid: "int2" } : {}), rounding: "gptq", calibration: { dataset: request.dataset, samples: calibrationSamples } })
      : null;
  for (const [i, r0] of uniform.entries()) {
    const share = (i + 1) / (uniform.length + 3);
    let r = r0;
    let { ok, bytes } = await tryRecipe(r, share);
    // Clipped scales (same size, no data) where nearest rounding on absmax scales misses at 4 bits; at 8 bits they
    // barely move a weight.
    const clipped = ok || recipeBits(r) !== 4 ? null : candidate({ ...r.quantize, scale: "mse" });
    if (clipped) {
      ({ ok, bytes } = await tryRecipe(clipped, share));
      if (ok) r = clipped;
    }
    // Then the asymmetric grid (uint4 with a zero point per scale: 16 levels fitted to each group's range, 3% larger
    // in blocks of 32): nearest rounding on it dropped 0.09-0.91 points where the symmetric grid's dropped 0.33-2.34
    // on the Fashion-MNIST CNNs (7000 test images, docs/quantization.md).
    const asymmetric = ok || recipeBits(r) !== 4 ? null : candidate({ ...r.quantize, symmetric: false });
    if (asymmetric) {
      ({ ok, bytes } = await tryRecipe(asymmetric, share));
      if (ok) r = asymmetric;
    }
    const gptq = ok ? null : compensated(r);
    if (gptq) {
      r = gptq;
      ({ ok, bytes } = await tryRecipe(r, share));
      // Bias correction takes off the mean shift GPTQ leaves (it won back 0.75-3.8 points at 1 bit on the MNIST models).
      const corrected = ok ? null : candidate({ ...gptq.quantize, biasCorrection: true });
      if (corrected) {
        r = corrected;
        ({ ok, bytes } = await tryRecipe(r, share));
      }
      // Then GPTQ on the inputs each layer sees behind the quantized layers before it, toward the float outputs: it
      // wins most on depthwise-separable CNNs and at 1 bit (docs/quantization.md), and costs one calibration run per
      // layer depth, so it comes last.
      for (const biasCorrection of [false, true]) {
        const sequential = ok ? null : candidate({ ...gptq.quantize, rounding: { method: "gptq", inputs: "quantized" }, ...(biasCorrection ? { biasCorrection } : {}) });
        if (sequential) {
          r = sequential;
          ({ ok, bytes } = await tryRecipe(r, share));
        }
      }
      // At 4 bits, the same on the asymmetric grid: on the depthwise-separable CNN it dropped 0.01-0.07 points where
      // the symmetric grid's dropped 0.17-0.20 (7000 test images, docs/quantization.md).
      const sequentialAsymmetric =
        ok || recipeBits(r) !== 4 ? null : candidate({ ...gptq.quantize, symmetric: false, rounding: { method: "gptq", inputs: "quantized" } });
      if (sequentialAsymmetric) {
        r = sequentialAsymmetric;
        ({ ok, bytes } = await tryRecipe(r, share));
      }
    }
    if (!ok) {
      narrowestFailing = { recipe: r0, bytes };
      continue;
    }
    passedBits.add(recipeBits(r));
    // A blocked width that passes: coarser blocks carry fewer scales (block 32 spends 1 float per 16 bytes of int4),
    // so double the block while the target still holds.
    const q = r.quantize!;
    if (request.objective === "smallest" && "granularity" in q && typeof q.granularity === "object") {
      for (let block = q.granularity.block * 2; block <= MAX_SEARCH_BLOCK; block *= 2) {
        const coarser = candidate({ ...q, granularity: { block } });
        if (!coarser || !(await tryRecipe(coarser, share)).ok) break;
      }
    }
  }
  // Mixed precision: the narrowest failing width, with its most sensitive layers one step wider. Any such mix is at
  // least as large as that width alone, so when looking for the smallest it is skipped once something smaller passed.
  const mixedCanWin = narrowestFailing !== null && (request.objective !== "smallest" || narrowestFailing.bytes < smallestPassing());
  if (narrowestFailing && mixedCanWin) {
    const layers = weightedLayers(parsed).map((l) => l.name);
    const narrow = recipeBits(narrowestFailing.recipe);
    // The next width up that passed on its own (2-bit failing, int4 passing: sensitive layers go to 4), else int8 or float.
    const wider = Math.min(...[...passedBits].filter((b) => b > narrow), narrow < 8 ? 8 : 32);
    const costs: { name: string; cost: number }[] = [];
    for (const name of layers) {
      // Only this layer at the narrow width, the others float: what it alone costs.
      const single = candidate({ ...narrowestFailing.recipe.quantize, exclude: layers.filter((n) => n !== name) });
      if (!single) continue;
      const built = await buildVariant(store, model, single, original);
      const rep = await evaluateBytes(model, original, built.bytes, dataset, { ...evalOptions, quick: true });
      costs.push({ name, cost: rep.accuracy ? rep.accuracy.drop : 1 - rep.agreement });
    }
    costs.sort((a, b) => b.cost - a.cost);
    for (let k = 1; k < costs.length; k++) {
      const overrides = Object.fromEntries(costs.slice(0, k).map((c) => [c.name, wider]));
      const mixed = candidate({ ...narrowestFailing.recipe.quantize, overrides });
      if (!mixed) break;
      const { ok, bytes } = await tryRecipe(mixed, 0.9);
      // Each further mix widens one more layer, so it only grows: past the smallest passing size none can win.
      if (ok || (request.objective === "smallest" && bytes >= smallestPassing())) break;
    }
  }
  const passing = [...tried.values()].filter((t) => meets(request.target, t.report));
  const best = pickBest(passing, request.objective);
  const { target, objective, confidence } = request;
  if (!best) return { met: false, target, confidence, objective, variant: null, trace };
  await progress("storing", 0.95);
  const variant = await storeEvaluatedVariant(store, best.built, best.report);
  return { met: true, target, confidence, objective, variant, trace };
}
