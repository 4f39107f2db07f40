// Variants: a recipe applied to a model, addressed by hash(model sha256, canonical recipe), made once. The hashed
// recipe carries the default layer cap only where the cap bound (recipe.ts variantRecipe).
import type { ActivationRanges } from "../compress/calibrate";
import { checkRecipe, compressModel, NothingToCompressError, pruneCapBinds, RecipeMismatchError, type CompressResult } from "../compress/pipeline";
import { PruneRecipeError } from "../compress/prune";
import { encodedSizes } from "../store/encoding";
import { StaticQuantizationError } from "../compress/quantize/activations";
import { DynamicQuantizationError } from "../compress/quantize/dynamic";
import { Int2OpsetError } from "../compress/quantize";
import { evaluateBytes } from "../evaluate/report";
import { collectRanges } from "./calibration";
import { loadDataset } from "./datasets";
import { addressNeedsWeights, canonicalJson, recipeBits, variantRecipe, type Recipe, type TrainedRecipe } from "../compress/recipe";
import { summarizeModel, type TensorSignature } from "../onnx/validate";
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { modelBlobKey, variantBlobKey } from "../store/keys";
import { sha256Hex } from "../store/body";
import { getVariantRecord, putVariantRecord, type ModelRecord, type VariantRecord, type VariantStages } from "../store/records";
import { parseModelBytes, readBlob } from "./models";
import { servingProfile } from "../serve/sessions";
import { kernelModules } from "../serve/kernels/wasm";
import { provideCompressionKernels } from "../compress/kernels";

// Every compression in the Worker goes through this module: it quantizes on the wasm kernels. The plain SIMD128
// build, as the Node tests use: the relaxed one adds nothing to quantization, and its bytes must not depend on it.
provideCompressionKernels(kernelModules.plain);

export async function variantId(modelSha256: string, recipe: Recipe | TrainedRecipe, bytesSha256?: string): Promise<string> {
  // A trained variant's bytes come from outside, so they are part of its address too.
  const key = `${modelSha256}\n${canonicalJson(recipe)}${bytesSha256 ? `\n${bytesSha256}` : ""}`;
  return (await sha256Hex(new TextEncoder().encode(key))).slice(0, 24);
}

/** Same names, types and fixed dims (symbolic dims may be named differently). */
function sameSignature(a: TensorSignature[], b: TensorSignature[]): boolean {
  const sameShape = (x: TensorSignature["shape"], y: TensorSignature["shape"]) =>
    !x || !y || (x.length === y.length && x.every((d, i) => typeof d !== "number" || typeof y[i] !== "number" || d === y[i]));
  return a.length === b.length && a.every((x, i) => x.name === b[i]!.name && x.type === b[i]!.type && sameShape(x.shape, b[i]!.shape));
}

/**
 * Registers ONNX bytes produced outside (e.g. by the training script) as a variant of a model. The bytes are
 * validated like any upload and must keep the parent's input and output names and types, so that every
 * serving path (?bits=, experiments) can swap one for the other.
 */
export async function registerTrainedVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  bytes: Uint8Array,
  recipe: TrainedRecipe,
): Promise<{ created: boolean; variant: VariantRecord }> {
  const sha256 = await sha256Hex(bytes);
  const id = await variantId(model.sha256, recipe, sha256);
  const existing = await getVariantRecord(env, tenant, model.id, id);
  if (existing) return { created: false, variant: existing };
  const summary = summarizeModel(parseModelBytes(bytes));
  if (!sameSignature(summary.inputs, model.inputs) || !sameSignature(summary.outputs, model.outputs)) {
    const show = (s: TensorSignature[]) => s.map((t) => `${t.name}:${t.type}[${t.shape?.join(",") ?? "?"}]`).join(", ");
    throw new ApiError(
      400,
      "invalid_model",
      `a trained variant must keep its parent's inputs (${show(model.inputs)}) and outputs (${show(model.outputs)}); got (${show(summary.inputs)}) and (${show(summary.outputs)})`,
    );
  }
  const serving = servingProfile(bytes, model.bytes);
  await env.BLOBS.put(variantBlobKey(tenant, model.id, id), bytes, { sha256 });
  const variant: VariantRecord = {
    id,
    modelId: model.id,
    sha256,
    recipe,
    bits: recipe.trained.bits ?? 32,
    bytes: bytes.byteLength,
    compressionRatio: model.bytes / bytes.byteLength,
    engine: serving.engine,
    residentBytes: serving.residentBytes,
    tensors: [],
    skipped: [],
    createdAt: new Date().toISOString(),
  };
  await putVariantRecord(env, tenant, variant);
  return { created: true, variant };
}

/** Recipe/model mismatches (see checkRecipe) as 400 invalid_recipe; anything else as it is. */
function recipeError(err: unknown): unknown {
  if (
    err instanceof PruneRecipeError ||
    err instanceof RecipeMismatchError ||
    err instanceof StaticQuantizationError ||
    err instanceof DynamicQuantizationError ||
    err instanceof Int2OpsetError
  ) {
    return new ApiError(400, "invalid_recipe", err.message);
  }
  if (err instanceof NothingToCompressError) return new ApiError(422, "nothing_to_compress", err.message);
  return err;
}

/** Compression proper (see compress/pipeline.ts), with recipe/model mismatches mapped to 400 invalid_recipe. */
export function compressModelBytes(modelBytes: Uint8Array, recipe: Recipe, ranges?: ActivationRanges): CompressResult {
  return asRecipeError(() => compressModel(parseModelBytes(modelBytes), recipe, ranges, modelBytes.byteLength));
}

/**
 * The recipe a variant is addressed by, for a recipe whose address depends on whether the default layer cap binds:
 * prunes the weights to tell (which also checks the names the recipe mentions).
 */
function addressedRecipe(modelBytes: Uint8Array, recipe: Recipe): Recipe {
  return variantRecipe(recipe, asRecipeError(() => pruneCapBinds(parseModelBytes(modelBytes), recipe)));
}

/** Runs `run`, throwing recipe/model mismatches as 400 invalid_recipe. */
function asRecipeError<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw recipeError(err);
  }
}

/**
 * The checks of a recipe against the model's graph (compress/pipeline.ts checkRecipe, the same that compression
 * runs first), as 400 invalid_recipe: what a request runs before queueing a job, so that a recipe that cannot
 * apply is refused at once on a large model as on a small one. Decoding keeps weights as views of the bytes.
 */
export async function requireApplicableRecipe(env: Env, tenant: string, model: ModelRecord, recipe: Recipe, original?: Uint8Array): Promise<void> {
  const bytes = original ?? (await readBlob(env, modelBlobKey(tenant, model.id), "model"));
  asRecipeError(() => checkRecipe(parseModelBytes(bytes), recipe));
}

export interface BuiltVariant {
  bytes: Uint8Array;
  record: VariantRecord;
}

export type Progress = (stage: string, progress: number) => Promise<void>;
const noProgress: Progress = async () => {};

/** Computes a variant's bytes and record (calibrating first for scheme 'static') without storing anything. */
export async function buildVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  recipe: Recipe,
  original: Uint8Array,
  progress: Progress = noProgress,
): Promise<BuiltVariant> {
  let ranges: ActivationRanges | undefined;
  if (recipe.quantize?.scheme === "static") {
    // Before calibrating: a recipe that cannot apply fails without running the model over the dataset.
    await requireApplicableRecipe(env, tenant, model, recipe, original);
    await progress("calibrating", 0.1);
    ranges = await collectRanges(env, tenant, model, original, recipe.quantize);
  }
  await progress("quantizing", 0.3);
  const { bytes, tensors, skipped, activations, prune, prunedBytes, quantizedBytes } = compressModelBytes(original, recipe, ranges);
  const addressed = variantRecipe(recipe, prune?.layers.some((l) => l.capped) ?? false);
  const id = await variantId(model.sha256, addressed);
  const stages: VariantStages = {
    denseFp32: model.bytes,
    pruned: prunedBytes,
    quantized: quantizedBytes,
    stored: bytes.byteLength,
    encoded: await encodedSizes(bytes),
  };
  const serving = servingProfile(bytes, model.bytes);
  const record: VariantRecord = {
    id,
    modelId: model.id,
    sha256: await sha256Hex(bytes),
    recipe: addressed,
    bits: recipeBits(recipe),
    bytes: bytes.byteLength,
    compressionRatio: model.bytes / bytes.byteLength,
    engine: serving.engine,
    residentBytes: serving.residentBytes,
    tensors,
    skipped,
    ...(activations.length ? { activations } : {}),
    ...(prune ? { prune } : {}),
    stages,
    createdAt: new Date().toISOString(),
  };
  return { bytes, record };
}

/** Bytes first, record last: a crash in between leaves no visible variant, and a rerun writes the same bytes. */
export async function storeVariant(env: Env, tenant: string, built: BuiltVariant): Promise<VariantRecord> {
  await env.BLOBS.put(variantBlobKey(tenant, built.record.modelId, built.record.id), built.bytes, { sha256: built.record.sha256 });
  await putVariantRecord(env, tenant, built.record);
  return built.record;
}

/** The stored variant of a recipe; `original` (the model's bytes) is read when the address needs the weights. */
export async function findVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  recipe: Recipe,
  original?: Uint8Array,
): Promise<VariantRecord | null> {
  const addressed = addressNeedsWeights(recipe)
    ? addressedRecipe(original ?? (await readBlob(env, modelBlobKey(tenant, model.id), "model")), recipe)
    : variantRecipe(recipe, false);
  return getVariantRecord(env, tenant, model.id, await variantId(model.sha256, addressed));
}

/**
 * Makes the variant a recipe describes (or finds it). With `evalDataset`, the variant is evaluated before it is
 * stored, so that it appears with its report or not at all.
 */
export async function makeVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  recipe: Recipe,
  evalDataset?: string,
  progress: Progress = noProgress,
): Promise<{ created: boolean; variant: VariantRecord }> {
  // Read first where the address needs the weights anyway; otherwise only when something is to be made.
  let original = addressNeedsWeights(recipe) ? await readBlob(env, modelBlobKey(tenant, model.id), "model") : undefined;
  const existing = await findVariant(env, tenant, model, recipe, original);
  if (existing && !evalDataset) return { created: false, variant: existing };
  original ??= await readBlob(env, modelBlobKey(tenant, model.id), "model");
  if (existing) {
    if (existing.eval?.dataset === evalDataset) return { created: false, variant: existing };
    const bytes = await readBlob(env, variantBlobKey(tenant, model.id, existing.id), "variant");
    return { created: false, variant: await attachEvaluation(env, tenant, model, existing, original, bytes, evalDataset!, progress) };
  }
  const built = await buildVariant(env, tenant, model, recipe, original, progress);
  if (evalDataset) {
    await progress("evaluating", 0.5);
    const { dataset } = await loadDataset(env, tenant, evalDataset);
    built.record.eval = await evaluateBytes(model, original, built.bytes, dataset, { datasetId: evalDataset });
  }
  await progress("storing", 0.95);
  return { created: true, variant: await storeVariant(env, tenant, built) };
}

/** Evaluates a stored variant on a dataset and rewrites its record with the report. */
export async function attachEvaluation(
  env: Env,
  tenant: string,
  model: ModelRecord,
  variant: VariantRecord,
  original: Uint8Array,
  bytes: Uint8Array,
  datasetId: string,
  progress: Progress = noProgress,
): Promise<VariantRecord> {
  await progress("evaluating", 0.2);
  const { dataset } = await loadDataset(env, tenant, datasetId);
  const report = await evaluateBytes(model, original, bytes, dataset, { datasetId });
  const updated: VariantRecord = { ...variant, eval: report };
  await putVariantRecord(env, tenant, updated);
  return updated;
}

export async function evaluateStoredVariant(
  env: Env,
  tenant: string,
  model: ModelRecord,
  variantId: string,
  datasetId: string,
  progress: Progress = noProgress,
): Promise<VariantRecord> {
  const variant = await requireVariant(env, tenant, model.id, variantId);
  const original = await readBlob(env, modelBlobKey(tenant, model.id), "model");
  const bytes = await readBlob(env, variantBlobKey(tenant, model.id, variant.id), "variant");
  return attachEvaluation(env, tenant, model, variant, original, bytes, datasetId, progress);
}

export async function requireVariant(env: Env, tenant: string, modelId: string, vid: string): Promise<VariantRecord> {
  const v = await getVariantRecord(env, tenant, modelId, vid);
  if (!v) throw notFound("variant", vid);
  return v;
}
