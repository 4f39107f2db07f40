// Compression recipes: the zod schema that validates them and the canonical form (defaults filled in,
// keys sorted) whose hash, with the model's, addresses a variant.
import { z } from "@hono/zod-openapi";
import { SCALE_CHOICES, type ScaleChoice } from "./quantize/affine";
import { MAX_COMPENSATED_FEATURES, MIN_BLOCK_FEATURES } from "./calibrate/bounds";

/** Activation ranges for scheme 'static', measured over a stored dataset. */
export const CalibrationSchema = z
  .object({
    dataset: z.string().regex(/^[0-9a-f]{24}$/, "dataset ids are 24 hex digits"),
    method: z.enum(["minmax", "percentile", "entropy"]).default("minmax"),
    percentile: z.number().gt(50).max(100).optional().describe("For method 'percentile' (default 99.999)"),
    samples: z.number().int().min(1).max(10000).default(256).describe("Calibration samples taken from the dataset's start"),
  })
  .strict()
  .overwrite((c) => (c.method === "percentile" ? { ...c, percentile: c.percentile ?? 99.999 } : { ...c, percentile: undefined }));

/** Which inputs compensated rounding measures each layer on (absent: float, so that ids stay those written before). */
const InputsSchema = z
  .enum(["float", "quantized"])
  .optional()
  .describe(
    "float (default): each layer's statistics on the float model's inputs. quantized: on the inputs it sees once the layers before it are quantized (one calibration run per layer depth), rounded toward the float model's outputs, so each layer also makes up for the error the layers before it left",
  );

/** Most inputs one Hessian spans: wider layers are compensated within diagonal blocks of at most this many inputs. */
const BlockInputsSchema = z
  .number()
  .int()
  .min(MIN_BLOCK_FEATURES)
  .max(MAX_COMPENSATED_FEATURES)
  .default(MAX_COMPENSATED_FEATURES)
  .describe(
    `Most inputs one Hessian spans (its factorisation takes k x k float64s): a layer with more is compensated within the fewest equal diagonal blocks of consecutive inputs that fit (${MIN_BLOCK_FEATURES} or more each; a layer with none rounds to nearest)`,
  );

/** The rounding without `inputs`: 'float' is the option's absence in the canonical form. */
function withoutInputs<R extends { inputs?: unknown }>(r: R): R {
  const { inputs: _float, ...rest } = r;
  return rest as R;
}

/** Error-compensating rounding: GPTQ's column-by-column rounding with Hessian error feedback (needs calibration). */
const GptqRoundingSchema = z
  .object({
    method: z.literal("gptq"),
    dampening: z.number().min(0).max(1).default(0.01).describe("Added to the Hessian's diagonal, as a fraction of its mean"),
    actOrder: z.boolean().default(false).describe("Quantize the inputs with the most activation energy first"),
    blockInputs: BlockInputsSchema,
    inputs: InputsSchema,
  })
  .strict();

/** Learned rounding: AdaRound's up-or-down choice per weight, optimised layer by layer (needs calibration). */
const AdaroundRoundingSchema = z
  .object({
    method: z.literal("adaround"),
    iterations: z.number().int().min(1).max(2000).default(500).describe("Adam steps per layer (each one K x K by K x N product)"),
    regularization: z.number().gt(0).max(1000).default(10).describe("Weight of the term that drives each choice to up or down, against the output error at nearest rounding"),
    blockInputs: BlockInputsSchema,
    inputs: InputsSchema,
  })
  .strict();

const RoundingSchema = z
  .union([z.literal("nearest"), z.literal("gptq"), z.literal("adaround"), GptqRoundingSchema, AdaroundRoundingSchema])
  .optional()
  // One canonical form per meaning: nearest is the absence of the option, "gptq" and "adaround" their defaults spelt out.
  .overwrite((r) =>
    r === "nearest"
      ? undefined
      : r === "gptq"
        ? { method: "gptq" as const, dampening: 0.01, actOrder: false, blockInputs: MAX_COMPENSATED_FEATURES }
        : r === "adaround"
          ? { method: "adaround" as const, iterations: 500, regularization: 10, blockInputs: MAX_COMPENSATED_FEATURES }
          : r?.inputs === "float"
            ? withoutInputs(r)
            : r,
  )
  .describe(
    "nearest (default): each weight to its nearest level. gptq: MatMul/Gemm/Conv weights rounded input by input, each rounding error spread over the inputs not yet rounded by the layer's calibration Hessian. adaround: each weight's up-or-down choice learned per layer against the same Hessian (AdaRound). Both need calibration: {dataset}; layers over blockInputs (1024) inputs are compensated within diagonal blocks",
  );

export type Rounding = Exclude<z.output<typeof RoundingSchema>, "nearest" | "gptq" | "adaround" | undefined>;

// One schema per bit-width, discriminated by `bits`; defaults fill the canonical form (bits 8's is unchanged, so
// existing variant ids stay stable). Exclusions, per-node overrides and equalization apply to every width; activation
// schemes (dynamic, static) to 8 bits only.
const layerChoices = {
  exclude: z
    .array(z.string().min(1).max(256))
    .max(1024)
    .overwrite((names) => [...new Set(names)].sort())
    .optional()
    .describe("Node names or op types left in float"),
  overrides: z
    .record(z.string().min(1).max(256), z.number().int())
    .optional()
    .describe("Per-node bit-width (mixed precision); 32 keeps the node float"),
  // Said only when true: a recipe with `equalize: false` is the recipe without it (same bytes, same variant id).
  equalize: z
    .boolean()
    .optional()
    .overwrite((on) => (on === true ? true : undefined))
    .describe(
      "Cross-layer range equalization before quantizing (compress/equalize.ts): consecutive Conv/Gemm/MatMul pairs with only Relu, Clip(0, max), pools, BatchNormalization or a per-channel bias add between them share per-channel scales; the float model computes the same",
    ),
};

/** Said only when true, as equalize is: without it the recipe (bytes, variant id) is as it always was. */
const BiasCorrectionSchema = z
  .boolean()
  .optional()
  .overwrite((on) => (on === true ? true : undefined))
  .describe(
    "Give each quantized MatMul/Gemm/Conv layer its float mean output per channel back on the calibration dataset (needs calibration: {dataset}): the variant's channel means less the float model's come off its bias, level by level; a layer without a bias gets one",
  );

/** SmoothQuant's migration strength: 0 leaves the activations as they are, 1 moves their whole range into the weights. */
const SmoothSchema = z.object({ alpha: z.number().min(0).max(1).default(0.5).describe("Migration strength (SmoothQuant's alpha)") }).strict();

/** Blocks of N consecutive inputs share a scale (DequantizeLinear's block_size). */
const BlockSchema = z
  .object({ block: z.number().int().min(16).max(4096).refine((b) => (b & (b - 1)) === 0, "block must be a power of two") })
  .strict();

/** Said only when "mse", as equalize is said only when true: absmax is the recipe as it always was (bytes, variant id). */
const ScaleSchema = z
  .enum(SCALE_CHOICES)
  .optional()
  .overwrite((s) => (s === "mse" ? ("mse" as const) : undefined))
  .describe(
    "absmax (default): each group's scale is its largest |w| over the top level. mse: the scale clipped to the ratio of absmax (1, 0.975, ..., 0.525) whose levels give the group's weights the least squared error (no data needed; symmetric grids, weight-only and static; with rounding, it rounds on the clipped grid)",
  );

const Int8RecipeSchema = z
  .object({
    bits: z.literal(8).describe("8 = int8 weights, per output channel, symmetric."),
    scheme: z
      .enum(["weight-only", "dynamic", "static"])
      .default("weight-only")
      .describe("weight-only; dynamic: activations quantized at run time (MatMulInteger/ConvInteger); static: activation QDQ from calibration"),
    granularity: z
      .union([z.literal("per-channel"), z.literal("per-tensor"), BlockSchema])
      .default("per-channel")
      .describe("One scale per output channel, one for the whole tensor, or one per block of N inputs (opset 21; weight-only and static)"),
    symmetric: z
      .boolean()
      .default(true)
      .describe("true: int8 levels, zero point 0; false: uint8 levels with a zero point per scale (weight-only and static)"),
    scale: ScaleSchema,
    calibration: CalibrationSchema.optional(),
    rounding: RoundingSchema,
    biasCorrection: BiasCorrectionSchema,
    smooth: SmoothSchema.optional().describe(
      "SmoothQuant for scheme 'static': each MatMul/Gemm input channel j divided by s_j = max|x_j|^alpha / max|W_j|^(1-alpha) (maxima from the calibration dataset), the weight's row j multiplied by it; folded into a LayerNormalization where it alone makes the input, else a Mul",
    ),
    ...layerChoices,
  })
  .strict();

const Fp16RecipeSchema = z
  .object({
    bits: z.literal(16).describe("16 = float16 weights (a Cast back to float in the graph)."),
    scheme: z.literal("weight-only").default("weight-only"),
    ...layerChoices,
  })
  .strict();

const Int4RecipeSchema = z
  .object({
    bits: z.literal(4).describe("4 = int4 weight-only, symmetric, one scale per block of inputs (per output channel for Conv)."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z
      .union([BlockSchema, z.literal("per-channel")])
      .default({ block: 32 })
      .describe("One scale per block of N inputs, or one per output channel"),
    symmetric: z.boolean().default(true).describe("true: int4 levels -7..7; false: uint4 levels 0..15 with a zero point per scale"),
    scale: ScaleSchema,
    calibration: CalibrationSchema.optional().describe("The dataset whose activations rounding 'gptq' or 'adaround' compensates for"),
    rounding: RoundingSchema,
    biasCorrection: BiasCorrectionSchema,
    ...layerChoices,
  })
  .strict();

const TernaryRecipeSchema = z
  .object({
    bits: z
      .literal(2)
      .describe("2 = 2-bit weights on the grid `grid` names, stored as INT2 (opset 25)."),
    scheme: z.literal("weight-only").default("weight-only"),
    grid: z
      .enum(["ternary", "int2"])
      .optional()
      .describe("ternary (absent: the default, so that ids stay those of recipes written before there was a choice): {-1, 0, +1} x scale (Ternary Weight Networks' threshold). int2: INT2's four levels {-2, -1, 0, 1} x scale, each group's scale (a negative one puts the extra level on the positive side) the one of least squared error over clipping ratios 0.2-1.2 of its largest |w|"),
    granularity: z
      .union([z.literal("per-channel"), BlockSchema])
      .default({ block: 32 })
      .describe("One scale per block of inputs (MatMul/Gemm; Conv stays per output channel) or per output channel"),
    symmetric: z.literal(true).default(true),
    calibration: CalibrationSchema.optional().describe("The dataset whose activations rounding 'gptq' or 'adaround' compensates for"),
    rounding: RoundingSchema,
    biasCorrection: BiasCorrectionSchema,
    ...layerChoices,
  })
  .strict();

const BinaryRecipeSchema = z
  .object({
    bits: z.literal(1).describe("1 = binary weights sign(w) * mean|w| per output channel, stored as INT2 (opset 25) where the model lifts."),
    scheme: z.literal("weight-only").default("weight-only"),
    granularity: z.literal("per-channel").default("per-channel"),
    symmetric: z.literal(true).default(true),
    calibration: CalibrationSchema.optional().describe("The dataset whose activations rounding 'gptq' or 'adaround' compensates for"),
    rounding: RoundingSchema,
    biasCorrection: BiasCorrectionSchema,
    ...layerChoices,
  })
  .strict();

/**
 * Codebook quantization (k-means weight sharing, as Deep Compression does it): each weight becomes an index into
 * 2^bits shared float values, one codebook per layer or per output channel.
 */
export const CodebookSchema = z
  .object({
    bits: z.number().int().min(2).max(8).describe("Index width: 2^bits shared values (centroids) per codebook"),
    scope: z.enum(["per-layer", "per-channel"]).default("per-layer").describe("One codebook per weight tensor, or one per output channel"),
    seed: z.number().int().min(0).max(2147483647).default(0).describe("Seeds k-means++ (the same seed gives the same variant)"),
    iterations: z.number().int().min(1).max(1000).default(1000).describe("Most Lloyd iterations per codebook (it stops once assignments settle; each costs O(k log n))"),
  })
  .strict();

export type Codebook = z.output<typeof CodebookSchema>;

/**
 * Product quantization ("And the bit goes down"): sub-vectors of consecutive inputs share `centroids` values per
 * layer; with calibration, centroids minimise the layer's output error on the dataset's activations.
 */
export const PqSchema = z
  .object({
    subvector: z.union([z.literal(4), z.literal(8), z.literal(16)]).default(8).describe("Inputs per sub-vector (one index each)"),
    centroids: z.number().int().min(2).max(256).default(256).describe("Shared sub-vectors per layer (uint8 indices; UINT4 up to 16)"),
    seed: z.number().int().min(0).max(2147483647).default(0).describe("Seeds k-means++ (the same seed gives the same variant)"),
    iterations: z.number().int().min(1).max(100).default(20).describe("Most Lloyd iterations per layer"),
  })
  .strict();

export type Pq = z.output<typeof PqSchema>;

/** Shared-value recipes: a codebook of scalars or of sub-vectors, named by their key (no `bits`). */
const SharedRecipeSchema = z
  .object({
    // No `bits` here: the discriminator's absence is what selects shared values (an enum of no values documents it).
    bits: z
      .undefined()
      .optional()
      .openapi({ type: "integer", enum: [], description: "Absent: a quantize part without bits is codebook or pq" } as never),
    codebook: CodebookSchema.optional(),
    pq: PqSchema.optional(),
    calibration: CalibrationSchema.optional().describe("pq: the dataset whose activations each layer's output error is measured on"),
    scheme: z.literal("weight-only").default("weight-only"),
    exclude: layerChoices.exclude,
    equalize: layerChoices.equalize,
  })
  .strict()
  .describe("Shared values: codebook (k-means weight sharing) or pq (product quantization), indices plus float codebooks read back by Gather");

/** A block longer than any input axis: one scale per output channel. *//** A block longer than any input axis: one scale per output channel. */
export const PER_CHANNEL_BLOCK = 1 << 30;

/** The weight bit-widths a quantize recipe accepts (also as per-node overrides, with 32 for float). */
const BIT_WIDTHS = [16, 8, 4, 2, 1] as const;

export function acceptedBits(): number[] {
  return [...BIT_WIDTHS];
}

export const QuantizeRecipeSchema = z
  .discriminatedUnion("bits", [Int8RecipeSchema, Fp16RecipeSchema, Int4RecipeSchema, TernaryRecipeSchema, BinaryRecipeSchema, SharedRecipeSchema])
  .superRefine((q, ctx) => {
    const calibration = calibrationOf(q);
    if (q.scheme === "static" && !calibration) {
      ctx.addIssue({ code: "custom", path: ["calibration"], message: "scheme 'static' needs calibration: {dataset}" });
    }
    if (q.bits === 8 && q.scheme === "dynamic" && (q.granularity !== "per-channel" && q.granularity !== "per-tensor")) {
      ctx.addIssue({ code: "custom", path: ["granularity"], message: "scheme 'dynamic' takes granularity 'per-channel' or 'per-tensor' (MatMulInteger has no blocks)" });
    }
    if (q.bits === 8 && q.scheme === "dynamic" && !q.symmetric) {
      ctx.addIssue({ code: "custom", path: ["symmetric"], message: "scheme 'dynamic' quantizes weights symmetrically; symmetric: false applies to 'weight-only' and 'static'" });
    }
    const rounding = roundingOf(q);
    const corrected = biasCorrectionOf(q);
    if (q.scheme !== "static" && calibration && !rounding && !corrected && q.bits !== undefined) {
      ctx.addIssue({ code: "custom", path: ["calibration"], message: `calibration applies to scheme 'static', rounding 'gptq' or 'adaround', or biasCorrection, not to scheme '${q.scheme}' alone` });
    }
    if (corrected && !calibration) {
      ctx.addIssue({ code: "custom", path: ["calibration"], message: "biasCorrection needs calibration: {dataset} (the inputs whose mean output error it removes)" });
    }
    if (q.bits === 8 && q.smooth && q.scheme !== "static") {
      ctx.addIssue({ code: "custom", path: ["smooth"], message: "smooth applies to scheme 'static' (it moves activation ranges into the weights so that static int8 keeps the activations)" });
    }
    if (corrected && q.scheme === "dynamic") {
      ctx.addIssue({ code: "custom", path: ["biasCorrection"], message: "biasCorrection applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)" });
    }
    if (rounding && !calibration) {
      ctx.addIssue({ code: "custom", path: ["calibration"], message: `rounding '${rounding.method}' needs calibration: {dataset} (the activations whose error it compensates)` });
    }
    const scale = scaleOf(q);
    if (scale === "mse" && q.scheme === "dynamic") {
      ctx.addIssue({ code: "custom", path: ["scale"], message: "scale 'mse' applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)" });
    }
    if (scale === "mse" && (q.bits === 8 || q.bits === 4) && !q.symmetric) {
      ctx.addIssue({ code: "custom", path: ["scale"], message: "scale 'mse' clips symmetric grids; symmetric: false keeps each group's [min, max]" });
    }
    if (rounding && q.scheme === "dynamic") {
      ctx.addIssue({ code: "custom", path: ["rounding"], message: `rounding '${rounding.method}' applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)` });
    }
    if (q.bits === undefined) {
      if ((q.codebook === undefined) === (q.pq === undefined)) {
        const message = q.codebook ? "give codebook or pq, not both" : "quantize needs bits (16, 8, 4, 2 or 1), codebook: {bits: 2..8} or pq: {subvector}";
        ctx.addIssue({ code: "custom", path: [], message });
      }
      if (q.calibration && !q.pq) ctx.addIssue({ code: "custom", path: ["calibration"], message: "calibration applies to pq (and to bits recipes), not to codebook" });
    }
    for (const [node, bits] of Object.entries(("overrides" in q ? q.overrides : undefined) ?? {})) {
      if (bits !== 32 && !(BIT_WIDTHS as readonly number[]).includes(bits)) {
        ctx.addIssue({ code: "custom", path: ["overrides", node], message: `${bits} is not a supported bit-width (32, ${BIT_WIDTHS.join(", ")})` });
      }
    }
  });

export type QuantizeRecipe = z.infer<typeof QuantizeRecipeSchema>;
/** A recipe on a uniform grid (bits 16, 8, 4, 2, 1), every recipe but the shared-value ones. */
export type UniformQuantizeRecipe = Exclude<QuantizeRecipe, { bits?: undefined }>;
export type Calibration = z.output<typeof CalibrationSchema>;

/** Calibration settings: 8-bit recipes with scheme 'static', 8, 4, 2 and 1-bit ones with rounding 'gptq' or 'adaround' or biasCorrection, and pq. */
export function calibrationOf(q: QuantizeRecipe): Calibration | undefined {
  return q.bits === 16 ? undefined : q.calibration;
}

/** Whether the recipe needs the layers' input Hessians from its calibration dataset (GPTQ rounding, calibrated pq). */
export function needsHessians(q: QuantizeRecipe): boolean {
  return roundingOf(q) !== undefined || (q.bits === undefined && q.pq !== undefined && q.calibration !== undefined);
}

/** Whether the recipe shifts biases by its weights' expected output error (uniform grids at 8, 4, 2 and 1 bits). */
export function biasCorrectionOf(q: QuantizeRecipe): boolean {
  return q.bits !== 16 && q.bits !== undefined && q.biasCorrection === true;
}

/** SmoothQuant's strength for a recipe that smooths (static int8 with `smooth`), or undefined. */
export function smoothingOf(q: QuantizeRecipe): { alpha: number } | undefined {
  return q.bits === 8 && q.scheme === "static" ? q.smooth : undefined;
}

/** The recipe's error-compensating rounding, or undefined for nearest. */
export function roundingOf(q: QuantizeRecipe): Rounding | undefined {
  return q.bits === 16 || q.bits === undefined ? undefined : (q.rounding as Rounding | undefined);
}

/** How the recipe's 8- and 4-bit grids choose their scales ("absmax" unless it says "mse"). */
export function scaleOf(q: QuantizeRecipe): ScaleChoice {
  return (q.bits === 8 || q.bits === 4) && q.scale === "mse" ? "mse" : "absmax";
}

/** 2-bit granularity when a per-node override asks for 2 bits under another width's recipe (the 2-bit default). */
const TERNARY_OVERRIDE_BLOCK = 32;

/** The weight quantizer's options for `bits` under a recipe (a per-node override may differ from the recipe's). */
export function quantizeOptions(
  q: QuantizeRecipe,
  bits: number | undefined = q.bits,
):
  | { bits: 8; granularity?: "per-channel" | "per-tensor" | { block: number }; symmetric?: boolean; scale?: "mse" }
  | { bits: 16 }
  | { bits: 4; block: number; symmetric?: boolean; scale?: "mse" }
  | { bits: 2; block: number; grid?: "ternary" | "int2" }
  | { bits: 1 } {
  if (q.bits === undefined || bits === undefined) throw new RangeError("a codebook recipe has no uniform grid");
  // Clipped scales reach every 8- and 4-bit layer, overrides included (their grids are symmetric).
  const scale = scaleOf(q) === "mse" ? { scale: "mse" as const } : {};
  // A per-node override to another width takes that width's defaults.
  switch (bits) {
    case 4:
      if (q.bits !== 4) return { bits: 4, block: 32, ...scale };
      // Per channel is one block spanning the whole input axis.
      return { bits: 4, block: q.granularity === "per-channel" ? PER_CHANNEL_BLOCK : q.granularity.block, symmetric: q.symmetric, ...scale };
    case 2:
      // block 0: one scale per output channel.
      if (q.bits !== 2) return { bits: 2, block: TERNARY_OVERRIDE_BLOCK };
      return { bits: 2, block: q.granularity === "per-channel" ? 0 : q.granularity.block, ...(q.grid ? { grid: q.grid } : {}) };
    case 8:
      return q.bits === 8 ? { bits: 8, granularity: q.granularity, symmetric: q.symmetric, ...scale } : { bits: 8, ...scale };
    case 16:
    case 1:
      return { bits };
    default:
      throw new RangeError(`no weight quantizer for ${bits} bits`);
  }
}

const Fraction = z.number().min(0).max(0.99);

/**
 * The most a global threshold may remove from one layer. A layer of uniformly tiny weights (a filterbank, an
 * embedding scale) would otherwise go entirely, and the variant with it, without a word.
 */
export const DEFAULT_MAX_LAYER_SPARSITY = 0.95;
const Cap = z.number().min(0).max(1);

/** N:M: at most n non-zeros in every group of m consecutive weights along the input axis. */
export const NmStructureSchema = z
  .object({ n: z.number().int().min(1).max(31), m: z.number().int().min(2).max(32) })
  .strict()
  .refine((s) => s.n < s.m, { message: "n must be smaller than m" });

/** Whole [rows, cols] blocks of the weight seen as a matrix [dims[0], rest] (the 1x16 kernel's layout). */
export const BlockStructureSchema = z
  .object({ block: z.tuple([z.number().int().min(1).max(256), z.number().int().min(1).max(256)]) })
  .strict();

/** The structures a sparsity can be chosen for (N:M fixes its own): what sensitivity sweeps and the search take. */
export const SweepStructureSchema = z.union([z.literal("unstructured"), z.literal("channel"), BlockStructureSchema]);

export const PruneRecipeSchema = z
  .object({
    method: z.literal("magnitude").default("magnitude").describe("Scores: |w| per weight; L1/L2 norm per block or channel."),
    sparsity: Fraction.optional().describe("Fraction of weights (of output channels for `channel`) removed; fixed by n/m for N:M."),
    scope: z.enum(["global", "per-layer"]).default("global").describe("One threshold across layers, or one per layer."),
    structure: z
      .union([z.literal("unstructured"), z.literal("channel"), NmStructureSchema, BlockStructureSchema])
      .default("unstructured"),
    norm: z.enum(["l1", "l2"]).default("l2").describe("Norm that scores a block or channel (unused when unstructured)."),
    overrides: z
      .record(z.string().min(1).max(256), Fraction)
      .default({})
      .describe("Per-layer sparsity by weight or node name; these layers leave the global pool."),
    exclude: z
      .array(z.string().min(1).max(256))
      .max(256)
      .default([])
      .transform((names) => [...new Set(names)].sort())
      .describe("Weight or node names left dense."),
    // No zod default: a recipe that leaves the cap unsaid keeps its old variant id where the cap changes nothing
    // (see variantRecipe).
    maxLayerSparsity: Cap.optional().describe(
      `Global scope: no layer in the global pool loses more than this fraction of its weights (default ${DEFAULT_MAX_LAYER_SPARSITY}; 1 = no cap). A capped layer keeps its largest weights and the other layers' threshold is recomputed to still meet the target.`,
    ),
    maxLayerSparsityOverrides: z
      .record(z.string().min(1).max(256), Cap)
      .optional()
      .describe("Per-layer cap by weight or node name, overriding maxLayerSparsity."),
  })
  .strict()
  .superRefine((p, ctx) => {
    const nm = typeof p.structure === "object" && "n" in p.structure;
    if (nm && (p.sparsity !== undefined || Object.keys(p.overrides).length > 0)) {
      ctx.addIssue({ code: "custom", message: "N:M fixes the sparsity at 1 - n/m: give neither sparsity nor overrides" });
    }
    if (!nm && p.sparsity === undefined) ctx.addIssue({ code: "custom", path: ["sparsity"], message: "sparsity is required" });
    // Per-layer sparsities are the user's own numbers: only the global pool is capped.
    if ((nm || p.scope === "per-layer") && (p.maxLayerSparsity !== undefined || p.maxLayerSparsityOverrides !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["maxLayerSparsity"],
        message: "maxLayerSparsity caps the global pool: with scope 'per-layer' or N:M every layer's sparsity is explicit",
      });
    }
  });

export type PruneRecipe = z.output<typeof PruneRecipeSchema>;

/** Whether a prune recipe leaves the layer cap at its default (unsaid, or said as the default with no overrides). */
function defaultCap(p: PruneRecipe): boolean {
  const overrides = p.maxLayerSparsityOverrides ?? {};
  return (p.maxLayerSparsity ?? DEFAULT_MAX_LAYER_SPARSITY) === DEFAULT_MAX_LAYER_SPARSITY && Object.keys(overrides).length === 0;
}

/**
 * Whether a recipe's variant id depends on the model's weights: a global prune under the default cap is addressed
 * with the cap only when the cap binds on some layer, which only pruning the weights can tell.
 */
export function addressNeedsWeights(recipe: Recipe): boolean {
  const p = recipe.prune;
  return p !== undefined && p.scope === "global" && !(typeof p.structure === "object" && "n" in p.structure) && defaultCap(p);
}

/**
 * The recipe a variant is addressed (and recorded) by. Ids were a hash of the recipe before the layer cap existed;
 * the default cap enters the hash only when it bound on some layer (the bytes differ, so must the id), and stays out
 * when it did not (same bytes as before, same id as before). A cap the recipe states otherwise is always part of it.
 */
export function variantRecipe(recipe: Recipe, capBound: boolean): Recipe {
  const p = recipe.prune;
  if (!p) return recipe;
  const { maxLayerSparsity, maxLayerSparsityOverrides, ...rest } = p;
  if (defaultCap(p) && !capBound) return { ...recipe, prune: rest };
  const overrides = maxLayerSparsityOverrides && Object.keys(maxLayerSparsityOverrides).length > 0 ? { maxLayerSparsityOverrides } : {};
  return { ...recipe, prune: { ...rest, maxLayerSparsity: maxLayerSparsity ?? DEFAULT_MAX_LAYER_SPARSITY, ...overrides } };
}

export const RecipeSchema = z
  .object({
    prune: PruneRecipeSchema.optional().describe("Applied first; quantization then compresses the surviving weights."),
    quantize: QuantizeRecipeSchema.optional(),
  })
  .strict()
  .refine((r) => r.prune !== undefined || r.quantize !== undefined, { message: "a recipe needs prune, quantize or both" })
  .openapi("Recipe");

export type Recipe = z.infer<typeof RecipeSchema>;

/** JSON with object keys sorted at every level: one spelling per recipe. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What produced an externally trained variant (the training script's `--upload`): recorded, never executed.
 * `bits` is the weight bit-width the training targeted (32 when absent), used by `?bits=`.
 */
export const TrainedRecipeSchema = z
  .object({
    trained: z
      .object({
        method: z.string().min(1).max(64),
        bits: z.union([z.literal(32), z.literal(16), z.literal(8), z.literal(4), z.literal(2), z.literal(1)]).optional(),
      })
      .catchall(z.union([z.string().max(256), z.number(), z.boolean(), z.null(), z.array(z.union([z.string().max(256), z.number()])).max(64)])),
  })
  .strict()
  .openapi("TrainedRecipe");

export type TrainedRecipe = z.infer<typeof TrainedRecipeSchema>;

/** The recipe's bit-width, used to pick a variant by `?bits=`. */
export function recipeBits(recipe: Recipe): number {
  const q = recipe.quantize;
  if (!q) return 32;
  if (q.bits !== undefined) return q.bits;
  // Product quantization: index bits per weight (8 bits per 8-input sub-vector is 1).
  return q.codebook ? q.codebook.bits : Math.log2(q.pq!.centroids) / q.pq!.subvector;
}
