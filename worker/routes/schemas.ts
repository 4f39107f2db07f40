// Response and parameter schemas shared by the routes (they also feed /openapi.json), and the types of the API's
// answers derived from them: the client, the CLI and the dashboard use these, not copies of their own.
import { z } from "@hono/zod-openapi";
import type { EvalReport } from "../evaluate/report";

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .openapi("Error");

export const errorResponses = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorSchema } } },
  401: { description: "Missing or unknown bearer token", content: { "application/json": { schema: ErrorSchema } } },
  404: { description: "Unknown id (or another tenant's)", content: { "application/json": { schema: ErrorSchema } } },
} as const;

/** A listing's page: `cursor` from the previous page's answer (opaque), `limit` items at most (default and most: 100). */
export const PageQuery = z.object({
  cursor: z.string().min(1).max(2048).optional().openapi({ description: "The `cursor` of the previous page's answer (opaque)" }),
  limit: z.coerce.number().int().min(1).max(100).optional().openapi({ description: "Items per page, 1 to 100 (default 100)" }),
});

/** Present when more items follow: send it back as `?cursor=` for the next page. */
export const NextCursor = z.string().optional().openapi({ description: "Present when more items follow: pass it as ?cursor= for the next page" });

export const ModelIdParam = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/, "model ids are 24 hex digits").openapi({ param: { name: "id", in: "path" } }),
});

export const VariantParams = ModelIdParam.extend({
  vid: z.string().regex(/^[0-9a-f]{24}$/, "variant ids are 24 hex digits").openapi({ param: { name: "vid", in: "path" } }),
});

const TensorSignatureSchema = z.object({
  name: z.string(),
  type: z.string(),
  shape: z.array(z.union([z.number(), z.string(), z.null()])).nullable(),
});

export const VariantSummarySchema = z
  .object({ id: z.string(), bits: z.number(), bytes: z.number(), compressionRatio: z.number(), createdAt: z.string() })
  .openapi("VariantSummary");

export const ModelSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    sha256: z.string(),
    bytes: z.number(),
    irVersion: z.number(),
    opset: z.array(z.object({ domain: z.string(), version: z.number() })),
    inputs: z.array(TensorSignatureSchema),
    outputs: z.array(TensorSignatureSchema),
    parameters: z.number(),
    ops: z.record(z.string(), z.number()),
    createdAt: z.string(),
    variants: z.array(VariantSummarySchema),
  })
  .openapi("Model");

const SkippedWeightSchema = z.object({
  name: z.string(),
  node: z.string(),
  reason: z.string(),
  elements: z.number().optional().describe("Elements of the tensor left float (absent for an activation, and in records made before sizes were reported)."),
});

const PruneReportSchema = z
  .object({
    sparsity: z.number().describe("Zeros over elements across the pruned weights."),
    layers: z.array(
      z.object({
        name: z.string(),
        node: z.string(),
        op: z.string(),
        shape: z.array(z.number()),
        structure: z.string(),
        target: z.number(),
        sparsity: z.number(),
        zeros: z.number(),
        elements: z.number(),
        // Optional: variants made before layer caps existed have none of these.
        maxSparsity: z
          .number()
          .optional()
          .describe("The layer's sparsity cap (global pool), or the level past which an explicit sparsity is flagged."),
        capped: z
          .boolean()
          .optional()
          .describe("The global threshold would have removed more than maxSparsity: the layer kept its largest weights."),
        outputChange: z
          .number()
          .optional()
          .describe("||(W' - W) x|| / ||W x||: relative change of the layer's output on 4 seeded uniform[-1, 1) probe inputs x."),
        channels: z.object({ before: z.number(), after: z.number(), removed: z.array(z.number()) }).optional(),
        newShape: z.array(z.number()).optional(),
      }),
    ),
    skipped: z.array(SkippedWeightSchema),
    warnings: z
      .array(z.string())
      .optional()
      .describe("Layers capped or at/above their cap, layers whose output changed by more than 0.5, a global target the caps left unmet."),
    sparseTensors: z.array(
      z.object({ name: z.string(), nnz: z.number(), elements: z.number(), denseBytes: z.number(), sparseBytes: z.number() }),
    ),
  })
  .openapi("PruneReport");

const StagesSchema = z
  .object({
    denseFp32: z.number(),
    pruned: z.number().nullable(),
    quantized: z.number().nullable(),
    stored: z.number(),
    encoded: z.object({ gzip: z.number(), br: z.number() }),
  })
  .openapi("VariantStages");

export const VariantSchema = VariantSummarySchema.extend({
  modelId: z.string(),
  sha256: z.string(),
  recipe: z.unknown(),
  engine: z.enum(["kernels", "onnxruntime-web"]),
  residentBytes: z.number().describe("Bytes the serving engine holds in an isolate for this variant (0 where it is not served)"),
  weightBytes: z.number().optional().describe("Of residentBytes, those of its weights as the kernel engine packs them (absent on onnxruntime-web); the rest is activations"),
  notServed: z.string().optional().describe("Why the Worker does not serve this variant (over the bound on what it serves); it downloads"),
  tensors: z.array(
    z.object({
      name: z.string(),
      node: z.string(),
      op: z.string(),
      shape: z.array(z.number()),
      axis: z.number(),
      bits: z.number(),
      scaleMin: z.number(),
      scaleMax: z.number(),
      maxAbsError: z.number(),
      sqnrDb: z.number().nullable(),
      codebook: z
        .object({
          scope: z.enum(["per-layer", "per-channel"]),
          centroids: z.number().describe("Shared values per codebook (2^bits)"),
          codebooks: z.number(),
          indexBits: z.number().describe("Width of each stored index: 2 (UINT2), 4 (UINT4) or 8 (UINT8)"),
          indexBytes: z.number(),
          codebookBytes: z.number(),
        })
        .optional()
        .describe("Codebook weights (k-means weight sharing): what the indices and codebooks take"),
      compensated: z.boolean().optional().describe("Levels chosen by GPTQ's error-compensating rounding (absent: nearest; a layer over GPTQ's input bound rounds to nearest)"),
    }),
  ),
  skipped: z.array(SkippedWeightSchema),
  prune: PruneReportSchema.optional(),
  stages: StagesSchema.optional(),
  activations: z
    .array(z.object({ name: z.string(), min: z.number(), max: z.number(), scale: z.number(), zeroPoint: z.number() }))
    .optional(),
  biasCorrection: z
    .object({
      corrected: z.array(
        z.object({
          layer: z.string(),
          bias: z.string().describe("The bias tensor the layer now reads"),
          channels: z.number(),
          maxAbsShift: z.number().describe("Largest shift taken off over the output channels (the variant's channel mean less the float model's)"),
          added: z.boolean().describe("The layer had no bias: one was added"),
        }),
      ),
      left: z.array(z.object({ layer: z.string(), reason: z.string() })),
    })
    .optional()
    .describe("With quantize.biasCorrection: the layers whose bias took off their measured channel-mean shift, and those left"),
  smoothed: z
    .array(
      z.object({
        activation: z.string(),
        layers: z.array(z.string()),
        channels: z.number(),
        foldedInto: z.string().nullable().describe("The LayerNormalization that took the division, or null where a Mul was inserted"),
        minScale: z.number(),
        maxScale: z.number(),
      }),
    )
    .optional()
    .describe("With quantize.smooth: each activation SmoothQuant rescaled, the layers reading it, and its scales' range"),
  eval: z.unknown().optional().openapi({ description: "Evaluation report against FP32 (accuracy, agreement, latency: each measured on the engine that serves it, named by `engine` and `fp32Engine`; per-layer SQNR)" }),
}).openapi("Variant");

export type VariantSummary = z.infer<typeof VariantSummarySchema>;
export type Model = z.infer<typeof ModelSchema>;
/** A model as the list answers it: without its variants. */
export type ModelSummary = Omit<Model, "variants">;
export type TensorSignature = z.infer<typeof TensorSignatureSchema>;
export type VariantStages = z.infer<typeof StagesSchema>;
/** A variant as the API answers it. The document leaves `eval` open; its shape is the evaluator's report. */
export type Variant = Omit<z.infer<typeof VariantSchema>, "eval"> & { eval?: EvalReport };
export type { EvalReport };

export const JsonTensorSchema = z
  .object({
    type: z.string().min(1),
    dims: z.array(z.number().int().nonnegative()).max(8),
    data: z.array(z.union([z.number(), z.boolean()])),
  })
  .strict()
  .openapi("Tensor");

export type JsonTensor = z.infer<typeof JsonTensorSchema>;

/** An output tensor: NaN and +/-Infinity are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
export const OutputTensorSchema = z
  .object({
    type: z.string().min(1),
    dims: z.array(z.number().int().nonnegative()).max(8),
    data: z.array(z.union([z.number(), z.boolean(), z.enum(["NaN", "Infinity", "-Infinity"])])),
  })
  .strict()
  .openapi("OutputTensor", { description: 'Non-finite values are the strings "NaN", "Infinity" and "-Infinity"; every other number is a JSON number.' });
