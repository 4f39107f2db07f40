// Variants: a recipe applied to a model, addressed by hash(model sha256, canonical recipe), made once. The hashed
// recipe carries the default layer cap only where the cap bound (recipe.ts variantRecipe).
import type { ActivationRanges } from "../compress/calibrate";
import type { LayerHessians } from "../compress/calibrate/hessian";
import { checkRecipe, compressModel, roundCompensated, type CompressResult, type RoundingMemo } from "../compress/pipeline";
import { encodedSizes } from "../store/content-coding";
import { evaluateBytes, type EvalReport } from "../evaluate/report";
import { collectChannelMaxima, forEachHessianPart, collectQuantizedInputHessians, collectRanges, correctVariantBiases, roundOnQuantizedInputs } from "./calibration";
import type { ChannelMaxima } from "../compress/smooth";
import { loadDataset } from "./datasets";
import { addressNeedsWeights, canonicalJson, biasCorrectionOf, needsHessians, recipeBits, roundingOf, smoothingOf, variantRecipe, type Recipe, type TrainedRecipe } from "../compress/recipe";
import { summarizeModel, type TensorSignature } from "../onnx/validate";
import { DomainError, notFound } from "../domain-error";
import { sha256Hex } from "../store/body";
import type { TenantStore } from "../store/tenant";
import { parseModelBytes } from "./models";
import type { ModelRecord, SkippedWeight, VariantRecord, VariantStages } from "./records";
import { decodeModel } from "../onnx/codec";
import { subgraphsOf } from "../onnx/operators";
import { elementCount, tensorDims } from "../onnx/tensor";
import type { GraphProto } from "onnx-buf";
import type { BiasCorrectionReport } from "../compress/bias-correction";
import { servingProfile } from "../serve/sessions";
import { checkServes } from "../serve/serve-check";
import { isolate } from "../isolate";
import { nextTurn } from "../turns";
import { requireRoom } from "./quotas";

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
  store: TenantStore,
  model: ModelRecord,
  bytes: Uint8Array,
  recipe: TrainedRecipe,
): Promise<{ created: boolean; variant: VariantRecord }> {
  const sha256 = await sha256Hex(bytes);
  const id = await variantId(model.sha256, recipe, sha256);
  const existing = await store.getVariant<VariantRecord>(model.id, id);
  if (existing) return { created: false, variant: existing };
  const summary = summarizeModel(parseModelBytes(bytes));
  if (!sameSignature(summary.inputs, model.inputs) || !sameSignature(summary.outputs, model.outputs)) {
    const show = (s: TensorSignature[]) => s.map((t) => `${t.name}:${t.type}[${t.shape?.join(",") ?? "?"}]`).join(", ");
    throw new DomainError(
      "invalid_model",
      `a trained variant must keep its parent's inputs (${show(model.inputs)}) and outputs (${show(model.outputs)}); got (${show(summary.inputs)}) and (${show(summary.outputs)})`,
    );
  }
  // Nothing stored that cannot serve: bytes that load but answer NaN are refused here, before anything is written.
  await checkServes(bytes, model.inputs, () => store.readModelBytes(model.id));
  const serving = servingProfile(bytes, model.bytes);
  await requireRoom(store, { variantOf: model.id, bytes: bytes.byteLength }, "delete a variant's model or another model first");
  await store.putVariantBytes(model.id, id, bytes, sha256);
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
    ...(serving.weightBytes !== undefined ? { weightBytes: serving.weightBytes } : {}),
    tensors: [],
    skipped: [],
    createdAt: new Date().toISOString(),
  };
  await commitRecord(store, variant, true);
  return { created: true, variant };
}

/** Compression proper (see compress/pipeline.ts) of stored model bytes. */
export function compressModelBytes(modelBytes: Uint8Array, recipe: Recipe, ranges?: ActivationRanges, hessians?: LayerHessians, maxima?: ChannelMaxima, memo?: RoundingMemo): CompressResult {
  return compressModel(parseModelBytes(modelBytes), recipe, ranges, modelBytes.byteLength, hessians, maxima, memo);
}

/**
 * The checks of a recipe against the model's graph (compress/pipeline.ts checkRecipe, the same that compression
 * runs first), as invalid_recipe: what a request runs before queueing a job, so that a recipe that cannot
 * apply is refused at once on a large model as on a small one. Decoding keeps weights as views of the bytes.
 */
export async function requireApplicableRecipe(store: TenantStore, model: ModelRecord, recipe: Recipe, original?: Uint8Array): Promise<void> {
  const bytes = original ?? (await store.readModelBytes(model.id));
  checkRecipe(parseModelBytes(bytes), recipe);
}

/** Element counts of every stored tensor of a model, by name: initializers, sparse ones and Constant values, in bodies too. */
function tensorElements(graph: GraphProto | undefined, into = new Map<string, number>()): Map<string, number> {
  if (!graph) return into;
  for (const t of graph.initializer) into.set(t.name, elementCount(tensorDims(t)));
  for (const t of graph.sparseInitializer) if (t.values) into.set(t.values.name, elementCount(t.dims.map(Number)));
  for (const node of graph.node) {
    const value = node.opType === "Constant" ? node.attribute.find((a) => a.name === "value")?.t : undefined;
    if (value && node.output[0]) into.set(node.output[0], elementCount(tensorDims(value)));
    for (const body of subgraphsOf(node)) tensorElements(body, into);
  }
  return into;
}

/** The skipped entries with the element count of the float tensor each one left (what the dashboard's shares need). */
function sized(skipped: CompressResult["skipped"], elements: Map<string, number>): SkippedWeight[] {
  return skipped.map((s) => (elements.has(s.name) ? { ...s, elements: elements.get(s.name)! } : s));
}

export interface BuiltVariant {
  bytes: Uint8Array;
  record: VariantRecord;
  /** The model's inputs (a variant keeps them): what the serve check feeds before the variant is stored. */
  inputs: TensorSignature[];
}

export type Progress = (stage: string, progress: number) => Promise<void>;
const noProgress: Progress = async () => {};

/** Computes a variant's bytes and record (calibrating first for scheme 'static') without storing anything. */
export async function buildVariant(
  store: TenantStore,
  model: ModelRecord,
  recipe: Recipe,
  original: Uint8Array,
  progress: Progress = noProgress,
): Promise<BuiltVariant> {
  let ranges: ActivationRanges | undefined;
  let maxima: ChannelMaxima | undefined;
  if (recipe.quantize?.scheme === "static") {
    // Before calibrating: a recipe that cannot apply fails without running the model over the dataset.
    await requireApplicableRecipe(store, model, recipe, original);
    if (smoothingOf(recipe.quantize)) {
      await progress("measuring channel maxima", 0.05);
      maxima = await collectChannelMaxima(store, model, original, recipe);
    }
    await progress("calibrating", 0.1);
    ranges = await collectRanges(store, model, original, recipe, maxima);
  }
  let hessians: LayerHessians | undefined;
  let memo: RoundingMemo | undefined;
  if (recipe.quantize && needsHessians(recipe.quantize)) {
    if (recipe.quantize.scheme !== "static") {
      await requireApplicableRecipe(store, model, recipe, original);
      // Checking decodes the whole model: a turn before the Hessians' own decoding and calibration.
      await nextTurn();
    }
    await progress("collecting Hessians", 0.15);
    // Product quantization, and compensated rounding with inputs 'quantized', measure each layer's inputs after the
    // layers before it are quantized, level by level.
    const onLevel = (level: number, levels: number) => progress(`collecting Hessians (level ${level} of ${levels})`, 0.15 + (0.15 * level) / levels);
    if ("pq" in recipe.quantize && recipe.quantize.pq !== undefined) {
      hessians = await collectQuantizedInputHessians(store, model, original, recipe, onLevel);
    } else if (roundingOf(recipe.quantize)?.inputs === "quantized") {
      memo = await roundOnQuantizedInputs(store, model, original, recipe, onLevel, { ranges, maxima });
      hessians = {};
    } else {
      // Part by part where all the Hessians would not fit: each part's weights are rounded before the next is
      // measured, a layer at a time between turns of the event loop; compression then takes the roundings made.
      memo = new Map();
      hessians = {};
      await forEachHessianPart(store, model, original, recipe, maxima, async (measured, part, parts) => {
        await progress(parts > 1 ? `rounding (part ${part + 1} of ${parts})` : "rounding", 0.15 + (0.15 * part) / parts);
        await roundCompensated(parseModelBytes(original), recipe, ranges, measured, maxima, memo!);
      });
    }
  }
  await progress("quantizing", 0.3);
  const compressed = compressModelBytes(original, recipe, ranges, hessians, maxima, memo);
  const { tensors, skipped, activations, prune, smoothed, prunedBytes, quantizedBytes } = compressed;
  let bytes = compressed.bytes;
  let biasCorrection: BiasCorrectionReport | undefined;
  if (recipe.quantize && biasCorrectionOf(recipe.quantize)) {
    await progress("correcting biases", 0.5);
    const corrected = await correctVariantBiases(store, model, original, recipe, bytes);
    bytes = corrected.bytes;
    biasCorrection = corrected.report;
  }
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
  const elements = tensorElements(decodeModel(bytes).graph);
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
    ...(serving.weightBytes !== undefined ? { weightBytes: serving.weightBytes } : {}),
    tensors,
    skipped: sized(skipped, elements),
    ...(activations.length ? { activations } : {}),
    ...(biasCorrection ? { biasCorrection } : {}),
    ...(smoothed ? { smoothed } : {}),
    ...(prune ? { prune: { ...prune, skipped: sized(prune.skipped, elements) } } : {}),
    stages,
    createdAt: new Date().toISOString(),
  };
  return { bytes, record, inputs: model.inputs };
}

/**
 * The serve check first (worker/serve/serve-check.ts: a variant that cannot serve is refused, nothing written), then
 * bytes, record last: a crash in between leaves no visible variant, and a rerun writes the same bytes.
 */
export async function storeVariant(store: TenantStore, built: BuiltVariant): Promise<VariantRecord> {
  await checkServes(built.bytes, built.inputs, () => store.readModelBytes(built.record.modelId));
  await requireRoom(store, { variantOf: built.record.modelId, bytes: built.bytes.byteLength }, "delete a model first");
  await store.putVariantBytes(built.record.modelId, built.record.id, built.bytes, built.record.sha256);
  await commitRecord(store, built.record, true);
  return built.record;
}

const modelGone = (modelId: string) => new DomainError("not_found", `model '${modelId}' was deleted; the variant was not stored`);

/**
 * Writes a variant's record, last, and only while its model exists: checked right before the write, and again after
 * it, because a deletion running meanwhile may have passed the variant records before this one landed (the model's
 * record goes first, catalog/models.ts deleteModel, so a deletion this check misses removes the record itself).
 * `ownBytes`: the caller has just written the variant's bytes, which go with a record refused or failed, unless a
 * record of the same address (a concurrent identical request's) points at them.
 */
export async function commitRecord(store: TenantStore, record: VariantRecord, ownBytes: boolean): Promise<void> {
  const { modelId, id } = record;
  try {
    if (!(await store.getModel(modelId))) throw modelGone(modelId);
    await store.putVariant(record);
  } catch (err) {
    if (ownBytes && !(await store.getVariant(modelId, id))) await store.deleteVariantBytes(modelId, id);
    throw err;
  }
  if (!(await store.getModel(modelId))) {
    await store.deleteVariantRecord(modelId, id);
    await store.deleteVariantBytes(modelId, id);
    throw modelGone(modelId);
  }
}

/** Stores a built variant with its evaluation, or attaches the evaluation to the stored one of the same address. */
export async function storeEvaluatedVariant(store: TenantStore, built: BuiltVariant, report: EvalReport): Promise<VariantRecord> {
  const existing = await store.getVariant<VariantRecord>(built.record.modelId, built.record.id);
  if (existing) {
    const variant = { ...existing, eval: report };
    await commitRecord(store, variant, false);
    return variant;
  }
  built.record.eval = report;
  return storeVariant(store, built);
}

/** The stored variant of a recipe, if any (no model bytes are read). */
export async function findVariant(store: TenantStore, model: ModelRecord, recipe: Recipe): Promise<VariantRecord | null> {
  // A global prune under the default cap is addressed with the cap only when it binds, which only pruning tells; the
  // binding is a fact of the model and recipe, so at most one of the two addresses is ever stored: look both up
  // rather than prune an 11M-weight model (seconds of one thread) to choose.
  for (const capBound of addressNeedsWeights(recipe) ? [false, true] : [false]) {
    const found = await store.getVariant<VariantRecord>(model.id, await variantId(model.sha256, variantRecipe(recipe, capBound)));
    if (found) return found;
  }
  return null;
}

/**
 * Makes the variant a recipe describes (or finds it). With `evalDataset`, the variant is evaluated before it is
 * stored, so that it appears with its report or not at all.
 */
export async function makeVariant(
  store: TenantStore,
  model: ModelRecord,
  recipe: Recipe,
  evalDataset?: string,
  progress: Progress = noProgress,
): Promise<{ created: boolean; variant: VariantRecord }> {
  // Identical requests in flight in this isolate share one computation and one write (across isolates, the job's
  // Durable Object runs a job once); only the first is told it created the variant.
  const key = `${store.tenant}/${model.id}/${canonicalJson(recipe)}/${evalDataset ?? ""}`;
  const inFlight = isolate.variantBuilds.get(key) as Promise<{ created: boolean; variant: VariantRecord }> | undefined;
  if (inFlight) return { created: false, variant: (await inFlight).variant };
  const made = makeVariantOnce(store, model, recipe, evalDataset, progress);
  isolate.variantBuilds.set(key, made);
  try {
    return await made;
  } finally {
    isolate.variantBuilds.delete(key);
  }
}

async function makeVariantOnce(
  store: TenantStore,
  model: ModelRecord,
  recipe: Recipe,
  evalDataset: string | undefined,
  progress: Progress,
): Promise<{ created: boolean; variant: VariantRecord }> {
  const existing = await findVariant(store, model, recipe);
  if (existing && !evalDataset) return { created: false, variant: existing };
  const original = await store.readModelBytes(model.id);
  if (existing) {
    if (existing.eval?.dataset === evalDataset) return { created: false, variant: existing };
    const bytes = await store.readVariantBytes(model.id, existing.id);
    return { created: false, variant: await attachEvaluation(store, model, existing, original, bytes, evalDataset!, progress) };
  }
  // Before the CPU is spent: a model at its variant quota is refused now, not after compressing.
  await requireRoom(store, { variantOf: model.id }, "delete the model's variants with the model, or use another model");
  const built = await buildVariant(store, model, recipe, original, progress);
  if (evalDataset) {
    await progress("evaluating", 0.5);
    const { dataset } = await loadDataset(store, evalDataset);
    built.record.eval = await evaluateBytes(model, original, built.bytes, dataset, { datasetId: evalDataset });
  }
  await progress("storing", 0.95);
  return { created: true, variant: await storeVariant(store, built) };
}

/** Evaluates a stored variant on a dataset and rewrites its record with the report. */
export async function attachEvaluation(
  store: TenantStore,
  model: ModelRecord,
  variant: VariantRecord,
  original: Uint8Array,
  bytes: Uint8Array,
  datasetId: string,
  progress: Progress = noProgress,
): Promise<VariantRecord> {
  await progress("evaluating", 0.2);
  const { dataset } = await loadDataset(store, datasetId);
  const report = await evaluateBytes(model, original, bytes, dataset, { datasetId });
  const updated: VariantRecord = { ...variant, eval: report };
  await commitRecord(store, updated, false);
  return updated;
}

export async function evaluateStoredVariant(
  store: TenantStore,
  model: ModelRecord,
  variantId: string,
  datasetId: string,
  progress: Progress = noProgress,
): Promise<VariantRecord> {
  const variant = await requireVariant(store, model.id, variantId);
  const original = await store.readModelBytes(model.id);
  const bytes = await store.readVariantBytes(model.id, variant.id);
  return attachEvaluation(store, model, variant, original, bytes, datasetId, progress);
}

export async function requireVariant(store: TenantStore, modelId: string, vid: string): Promise<VariantRecord> {
  const v = await store.getVariant<VariantRecord>(modelId, vid);
  if (!v) throw notFound("variant", vid);
  return v;
}
