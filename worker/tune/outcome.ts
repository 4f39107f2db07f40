// What every target search shares: the target, whether an evaluation meets it, the trace entry of a candidate and
// the search's result. The winner is stored with its evaluation by the catalog (catalog/variants.ts
// storeEvaluatedVariant).
import { z } from "@hono/zod-openapi";
import type { VariantRecord } from "../catalog/records";
import type { Recipe } from "../compress/recipe";
import type { EvalReport } from "../evaluate/report";
import { DEFAULT_CONFIDENCE, largestProvableAgreement, smallestProvableDrop, type Interval } from "../evaluate/intervals";
import { DomainError } from "../domain-error";

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

export const ConfidenceSchema = z
  .number()
  .min(0.5)
  .max(0.999)
  .default(DEFAULT_CONFIDENCE)
  .describe("A candidate meets an accuracy or agreement target only when the bound of this two-sided interval does (paired, on the dataset)");
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
  /** Intervals at the search's confidence: the paired accuracy drop (points) and the agreement. */
  accuracyDropInterval: Interval | null;
  agreementInterval: Interval | null;
  cosine: number;
  /** Rows the figures are measured on: how many, and the first where a calibrated candidate's calibration rows were left out. */
  samples: number;
  firstSample?: number;
  meetsTarget: boolean;
  /** Pruning search: achieved sparsity over the prunable weights, and bytes on the wire (brotli, as downloads send). */
  sparsity?: number;
  transferBytes?: number;
}

/**
 * Whether an evaluation establishes the target: the upper bound of the accuracy drop's interval, or the lower bound of
 * the agreement's, must meet it (a point estimate on a few hundred samples is within noise of the target). Cosine,
 * and agreement on outputs without a top-1 (where it is the cosine), are compared as measured.
 */
export function meets(target: Target, r: EvalReport): boolean {
  if (target.maxAccuracyDrop !== undefined) return r.intervals.accuracyDrop !== null && r.intervals.accuracyDrop[1] <= target.maxAccuracyDrop;
  if (target.minAgreement !== undefined) return (r.intervals.agreement?.[0] ?? r.agreement) >= target.minAgreement;
  return (r.outputs[0]?.cosine ?? 0) >= target.minCosine!;
}

/**
 * Refuses a target that no candidate could establish on `samples` rows at `confidence`, even one that agrees with
 * FP32 on every row: the answer names the smallest provable figure and what would make the target decidable.
 */
export function checkDecidable(target: Target, samples: number, confidence: number): void {
  const level = `${(confidence * 100).toFixed(1).replace(/\.0$/, "")}%`;
  if (target.maxAccuracyDrop !== undefined) {
    const floor = smallestProvableDrop(samples, confidence);
    if (floor > target.maxAccuracyDrop) {
      throw new DomainError(
        "invalid_request",
        `the dataset is too small to decide: on ${samples} samples at ${level} confidence no variant can show a drop below ${floor.toFixed(2)} points (target ${target.maxAccuracyDrop}); give more samples, a larger target or a lower confidence`,
      );
    }
  }
  if (target.minAgreement !== undefined) {
    const ceiling = largestProvableAgreement(samples, confidence);
    if (ceiling < target.minAgreement) {
      throw new DomainError(
        "invalid_request",
        `the dataset is too small to decide: on ${samples} samples at ${level} confidence no variant can show an agreement above ${ceiling.toFixed(4)} (target ${target.minAgreement}); give more samples, a lower target or a lower confidence`,
      );
    }
  }
}

/** The trace's figures of an evaluation (the recipe and sizes are the caller's). */
export function traceFigures(
  report: EvalReport,
): Pick<TraceEntry, "accuracy" | "accuracyDrop" | "agreement" | "accuracyDropInterval" | "agreementInterval" | "cosine" | "samples" | "firstSample"> {
  return {
    samples: report.samples,
    ...(report.firstSample ? { firstSample: report.firstSample } : {}),
    accuracy: report.accuracy?.variant ?? null,
    accuracyDrop: report.accuracy?.drop ?? null,
    agreement: report.agreement,
    accuracyDropInterval: report.intervals.accuracyDrop,
    agreementInterval: report.intervals.agreement,
    cosine: report.outputs[0]?.cosine ?? 0,
  };
}

export interface SearchResult {
  met: boolean;
  target: Target;
  /** The confidence level the target was checked at. */
  confidence: number;
  objective: Objective;
  variant: VariantRecord | null;
  trace: TraceEntry[];
}
