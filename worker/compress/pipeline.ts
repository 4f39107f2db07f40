// The compression pipeline over a decoded model, in Deep Compression's order: prune, quantize the survivors (an
// exact zero quantizes to zero, so sparsity survives), then store mostly-zero tensors as sparse initializers.
// Quantization follows the recipe per layer (exclusions, per-node overrides) and runs the scheme's passes
// (dynamic integer ops, weight-only per bit-width, static activation QDQ).
import type { ModelProto, NodeProto } from "onnx-buf";
import { encodeModel } from "../onnx/codec";
import { densifyInitializers, sparsifyInitializers, type SparseReport } from "../onnx/sparse";
import { nodeLabel, weightedLayers as layersOf } from "../onnx/operators";
import type { ActivationRanges } from "./calibrate";
import { checkPruneNames, pruneModel, type PruneResult } from "./prune";
import { liftForInt2, quantizeModel, type QuantizeOptions, type QuantizeResult, type TensorReport } from "./quantize";
import { quantizeActivations, requireStaticOpset, type ActivationReport } from "./quantize/activations";
import { quantizeDynamic, requireDynamicOpset } from "./quantize/dynamic";
import { quantizeOptions, type Recipe } from "./recipe";
import { DomainError } from "../domain-error";

type QuantizeRecipe = NonNullable<Recipe["quantize"]>;

export interface CompressResult {
  bytes: Uint8Array;
  tensors: TensorReport[];
  skipped: QuantizeResult["skipped"];
  activations: ActivationReport[];
  prune?: Pick<PruneResult, "sparsity" | "layers" | "skipped" | "warnings"> & { sparseTensors: SparseReport[] };
  /** Encoded size after each stage the recipe runs (null for a stage it skips). */
  prunedBytes: number | null;
  quantizedBytes: number | null;
}

/**
 * Every check of a recipe against a model that reads the graph alone (names, op types, opset, liftability), never
 * a weight's values: run before anything costly (calibration, a job), so that a recipe that cannot apply is
 * refused at once whatever the model's size. Throws PruneRecipeError, RecipeMismatchError,
 * DynamicQuantizationError, StaticQuantizationError or Int2OpsetError. Pruning keeps every layer's name and op,
 * so the quantize part is checked against the same graph.
 */
export function checkRecipe(model: ModelProto, recipe: Recipe): void {
  if (recipe.prune) checkPruneNames(model, recipe.prune);
  const q = recipe.quantize;
  if (!q) return;
  checkLayerNames(model, q);
  if (q.scheme === "dynamic") requireDynamicOpset(model);
  if (q.scheme === "static") requireStaticOpset(model);
  if ([...layerBits(model, q).values()].includes(2)) liftForInt2(model);
}

/**
 * Pure: the same model, recipe (and calibration ranges, for scheme 'static') always give the same bytes.
 * Throws what checkRecipe throws.
 */
export function compressModel(input: ModelProto, recipe: Recipe, ranges?: ActivationRanges): CompressResult {
  checkRecipe(input, recipe);
  let model = input;
  let prune: CompressResult["prune"];
  let prunedBytes: number | null = null;
  let quantizedBytes: number | null = null;
  if (recipe.prune) {
    const result = pruneModel(densifyInitializers(model), recipe.prune);
    model = result.model;
    prunedBytes = encodeModel(model).byteLength;
    prune = { sparsity: result.sparsity, layers: result.layers, skipped: result.skipped, warnings: result.warnings, sparseTensors: [] };
  }
  let tensors: TensorReport[] = [];
  let skipped: QuantizeResult["skipped"] = [];
  let activations: ActivationReport[] = [];
  if (recipe.quantize) {
    const result = quantizeByRecipe(model, recipe.quantize, ranges);
    model = result.model;
    tensors = result.tensors;
    skipped = result.skipped;
    activations = result.activations;
  }
  let bytes: Uint8Array | null = null;
  if (recipe.quantize) {
    bytes = encodeModel(model);
    quantizedBytes = bytes.byteLength;
  }
  // Quantize-only recipes keep their bytes (and ids) exactly as before pruning existed.
  if (prune) {
    const sparse = sparsifyInitializers(model);
    model = sparse.model;
    prune.sparseTensors = sparse.tensors;
    bytes = null;
  }
  // Without a sparse rewrite the quantized encoding is the output: encoding 20+ MB twice was a tenth of the time.
  return { bytes: bytes ?? encodeModel(model), tensors, skipped, activations, prune, prunedBytes, quantizedBytes };
}

/** Whether pruning per the recipe caps some layer (which puts the cap into the variant's address, recipe.ts). */
export function pruneCapBinds(input: ModelProto, recipe: Recipe): boolean {
  return recipe.prune !== undefined && pruneModel(densifyInitializers(input), recipe.prune).layers.some((l) => l.capped);
}

export interface QuantizeByRecipeResult extends QuantizeResult {
  activations: ActivationReport[];
}

/** The weighted layers of a model (the operator table's ops with an initializer weight), in graph order. */
export function weightedLayers(model: ModelProto): { name: string; op: string; weight: string }[] {
  return layersOf(model.graph!).map((l) => ({ name: l.label, op: l.node.opType, weight: l.weight.name }));
}

/** Bit-width per layer name; null leaves the layer float. */
export function layerBits(model: ModelProto, q: QuantizeRecipe): Map<string, number | null> {
  const exclude = new Set(q.exclude ?? []);
  const bits = new Map<string, number | null>();
  for (const layer of weightedLayers(model)) {
    const excluded = exclude.has(layer.name) || exclude.has(layer.op);
    const b = excluded ? null : (q.overrides?.[layer.name] ?? q.bits);
    bits.set(layer.name, b === 32 ? null : b);
  }
  return bits;
}

export class RecipeMismatchError extends DomainError {
  override name = "RecipeMismatchError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

/** Overrides must name quantizable layers, exclusions layers or op types of the model. */
function checkLayerNames(model: ModelProto, q: QuantizeRecipe): void {
  const known = new Set(layerBits(model, q).keys());
  const ops = new Set(weightedLayers(model).map((l) => l.op));
  for (const name of Object.keys(q.overrides ?? {})) {
    if (!known.has(name)) throw new RecipeMismatchError(`overrides: '${name}' is not a quantizable layer of this model (${[...known].join(", ")})`);
  }
  for (const name of q.exclude ?? []) {
    if (!known.has(name) && !ops.has(name) && !model.graph!.node.some((n) => n.opType === name)) {
      throw new RecipeMismatchError(`exclude: '${name}' names no layer or op type of this model`);
    }
  }
}

/** Quantizes per the recipe's `quantize` part: exclusions, per-node overrides, then the scheme's passes. */
export function quantizeByRecipe(model: ModelProto, q: QuantizeRecipe, ranges?: ActivationRanges): QuantizeByRecipeResult {
  checkLayerNames(model, q);
  const bits = layerBits(model, q);
  const bitsOf = (node: NodeProto) => bits.get(nodeLabel(node));
  let current = model;
  const tensors: QuantizeResult["tensors"] = [];
  const skipped: QuantizeResult["skipped"] = [];
  if (q.scheme === "dynamic") {
    const r = quantizeDynamic(current, (n) => bitsOf(n) === 8, q.bits === 8 && q.granularity === "per-tensor" ? "per-tensor" : "per-channel");
    current = r.model;
    tensors.push(...r.tensors);
  }
  const widths = [...new Set([...bits.values()].filter((b): b is number => b !== null))].sort((a, b) => b - a);
  for (const b of widths) {
    // Remaining layers of this width (all of them, or those a dynamic rewrite declined) get weight-only.
    const options: QuantizeOptions = { ...quantizeOptions(q, b), include: (n: NodeProto) => bitsOf(n) === b };
    const r = quantizeModel(current, options);
    current = r.model;
    tensors.push(...r.tensors);
    skipped.push(...r.skipped);
  }
  let activations: ActivationReport[] = [];
  if (q.scheme === "static") {
    const layers = new Set([...bits].filter(([, b]) => b !== null).map(([name]) => name));
    const r = quantizeActivations(current, ranges ?? {}, layers);
    current = r.model;
    activations = r.activations;
    for (const x of r.missing) skipped.push({ name: x, node: x, reason: "no calibrated range for this activation" });
  }
  return { model: current, tensors, skipped, activations };
}
