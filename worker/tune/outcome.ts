// What every target search shares: whether an evaluation meets the target, the trace entry of a candidate, and
// storing the winner with its evaluation.
import { storeVariant, type BuiltVariant } from "../catalog/variants";
import type { Recipe } from "../compress/recipe";
import type { Env } from "../env";
import type { EvalReport } from "../evaluate/report";
import { getVariantRecord, putVariantRecord, type ModelRecord, type VariantRecord } from "../store/records";
import type { SearchRequest } from "./search";

export interface TraceEntry {
  recipe: Recipe;
  bytes: number;
  compressionRatio: number;
  /** Median batch-1 ms on the serving engine; null where the isolate's clock could not resolve it. */
  latencyMs: number | null;
  accuracy: number | null;
  accuracyDrop: number | null;
  agreement: number;
  cosine: number;
  meetsTarget: boolean;
  /** Pruning search: achieved sparsity over the prunable weights, and bytes on the wire (brotli, as downloads send). */
  sparsity?: number;
  transferBytes?: number;
}

export function meets(target: SearchRequest["target"], r: EvalReport): boolean {
  if (target.maxAccuracyDrop !== undefined) return r.accuracy !== null && r.accuracy.drop <= target.maxAccuracyDrop;
  if (target.minAgreement !== undefined) return r.agreement >= target.minAgreement;
  return (r.outputs[0]?.cosine ?? 0) >= target.minCosine!;
}

/** Stores the winning variant with its evaluation (or attaches the evaluation to the stored one). */
export async function storeWinner(
  env: Env,
  tenant: string,
  model: ModelRecord,
  built: BuiltVariant,
  report: EvalReport,
): Promise<VariantRecord> {
  const existing = await getVariantRecord(env, tenant, model.id, built.record.id);
  if (existing) {
    const variant = { ...existing, eval: report };
    await putVariantRecord(env, tenant, variant);
    return variant;
  }
  built.record.eval = report;
  return storeVariant(env, tenant, built);
}
