// What every target search shares: the target, whether an evaluation meets it, the trace entry of a candidate and
// the search's result. The winner is stored with its evaluation by the catalog (catalog/variants.ts
// storeEvaluatedVariant).
import { z } from "@hono/zod-openapi";
import type { VariantRecord } from "../catalog/records";
import type { Recipe } from "../compress/recipe";
import type { EvalReport } from "../evaluate/report";

export const TargetSchema = z
  .object({
    maxAccuracyDrop: z.number().min(0).max(100).optional().describe("Top-1 accuracy drop in points (needs labels)"),
    minAgreement: z.number().min(0).max(1).optional().describe("Top-1 agreement with FP32"),
    minCosine: z.number().min(-1).max(1).optional().describe("Cosine similarity of the first output with FP32's"),
  })
  .strict()
  .refine((t) => Object.values(t).filter((v) => v !== undefined).length === 1, "give exactly one of maxAccuracyDrop, minAgreement, minCosine")
  .openapi("Target");

export type Target = z.infer<typeof TargetSchema>;
export type Objective = "smallest" | "fastest";

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

export function meets(target: Target, r: EvalReport): boolean {
  if (target.maxAccuracyDrop !== undefined) return r.accuracy !== null && r.accuracy.drop <= target.maxAccuracyDrop;
  if (target.minAgreement !== undefined) return r.agreement >= target.minAgreement;
  return (r.outputs[0]?.cosine ?? 0) >= target.minCosine!;
}

export interface SearchResult {
  met: boolean;
  target: Target;
  objective: Objective;
  variant: VariantRecord | null;
  trace: TraceEntry[];
}
