// The compression pipeline over a decoded model, in Deep Compression's order: prune, quantize the survivors (an
// exact zero quantizes to zero, so sparsity survives), then store mostly-zero tensors as sparse initializers.
// `equalize` rescales channels between pruning and quantizing (equalize.ts: the float model computes the same).
// Quantization follows the recipe per layer (exclusions, per-node overrides) and runs the scheme's passes
// (dynamic integer ops, weight-only per bit-width, static activation QDQ).
import type { ModelProto, NodeProto } from "onnx-buf";
import { encodeModel } from "../onnx/codec";
import { densifyInitializers, sparsifyInitializers, type SparseReport } from "../onnx/sparse";
import { normalizeConstants } from "../onnx/constants";
import { DT } from "../onnx/dtype";
import { nodeLabel, subgraphsOf, weightedLayers as layersOf } from "../onnx/operators";
import { elementCount, tensorDims } from "../onnx/tensor";
import type { ActivationRanges } from "./calibrate";
import { hessianTargets, type HessianTarget, type LayerHessians } from "./calibrate/hessian";
import { adaroundRounding } from "./quantize/adaround";
import { blockedLayout, GPTQ_DEFAULTS, gptqRounding } from "./quantize/gptq";
import { towardFloatOutputs } from "./quantize/float-target";
import { nearestLevels, type AffineGrid, type LevelRounding, type Rounded } from "./quantize/affine";
import { stepsOf } from "./quantize/stepped";
import { checkPruneNames, pruneModel, type PruneResult } from "./prune";
import { equalizeModel, type EqualizedPair } from "./equalize";
import { inMemory, inTurns, liftForInt2, quantizeModelSteps, type QuantizeOptions, type QuantizeResult, type QuantizeSteps, type TensorReport } from "./quantize";
import { quantizeActivations, requireStaticOpset, staticDataInputs, staticOpsetModel, type ActivationReport } from "./quantize/activations";
import { quantizeDynamic, requireDynamicOpset } from "./quantize/dynamic";
import { quantizeOptions, recipeBits, roundingOf, smoothingOf, type Recipe, type Rounding } from "./recipe";
import { smoothingTargets, smoothModel, type ChannelMaxima, type SmoothedActivation } from "./smooth";
import type { GemmLayout } from "../onnx/operators";
import { DomainError } from "../domain-error";

type QuantizeRecipe = NonNullable<Recipe["quantize"]>;

export interface CompressResult {
  bytes: Uint8Array;
  tensors: TensorReport[];
  skipped: QuantizeResult["skipped"];
  activations: ActivationReport[];
  prune?: Pick<PruneResult, "sparsity" | "layers" | "skipped" | "warnings"> & { sparseTensors: SparseReport[] };
  /** With `quantize.equalize`: the layer pairs equalized (empty when the model has none). */
  equalized?: EqualizedPair[];
  /** With `quantize.smooth`: the activations smoothed. */
  smoothed?: SmoothedActivation[];
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
export function checkRecipe(input: ModelProto, recipe: Recipe): void {
  const model = normalizeConstants(input);
  if (recipe.prune) checkPruneNames(model, recipe.prune);
  const q = recipe.quantize;
  if (!q) return;
  checkLayerNames(model, q);
  if (q.scheme === "dynamic") requireDynamicOpset(model);
  if (q.scheme === "static") requireStaticOpset(model);
  if ([...layerBits(model, q).values()].includes(2)) liftForInt2(model);
}

/** What a compression looked at and why each weight it left stays as it is. */
export interface Candidate {
  name: string;
  node: string;
  reason: string;
}

/**
 * A recipe that changes no weight, or whose output is not smaller than the original: there is no variant to make
 * (rather than a copy of the original under a variant's name). `candidates` lists every weight looked at and why it
 * was left.
 */
export class NothingToCompressError extends DomainError {
  override name = "NothingToCompressError";
  constructor(
    message: string,
    readonly candidates: Candidate[],
  ) {
    super("nothing_to_compress", `${message}${candidates.length ? `: ${candidates.map((c) => `${c.name} (${c.node}): ${c.reason}`).join("; ")}` : ": the model has no constant float tensor"}`);
  }
}

/** Constant float tensors ≥ this many elements that no table op reads as its weight are reported as left. */
export const REPORTED_UNCOVERED = 4096;

/** Initializer names of every graph of a model (bodies included). */
export function initializerNames(model: ModelProto): Set<string> {
  const names = new Set<string>();
  const collect = (g: NonNullable<ModelProto["graph"]>) => {
    for (const t of g.initializer) names.add(t.name);
    for (const n of g.node) for (const s of subgraphsOf(n)) collect(s);
  };
  collect(model.graph!);
  return names;
}

/**
 * Float initializers (in every graph) that no weighted layer reads as its weight, with the ops that read them:
 * what compression looked at and left because no op of the table takes them. `candidates` names the initializers
 * the model had before quantizing: the tensors quantization wrote (scales, float zero points) are its output, not
 * weights it left.
 */
export function uncoveredConstants(model: ModelProto, minElements: number, candidates?: Set<string>): Candidate[] {
  const weights = new Set(layersOf(model.graph!).map((l) => l.weight.name));
  const readers = new Map<string, string[]>();
  const out: Candidate[] = [];
  const visit = (g: NonNullable<ModelProto["graph"]>) => {
    for (const n of g.node) {
      for (const i of n.input) if (i) readers.set(i, [...(readers.get(i) ?? []), `${n.opType} node '${nodeLabel(n)}'`]);
      for (const s of subgraphsOf(n)) visit(s);
    }
  };
  const collect = (g: NonNullable<ModelProto["graph"]>) => {
    for (const t of g.initializer) {
      if (weights.has(t.name) || (candidates && !candidates.has(t.name)) || (t.dataType !== DT.FLOAT && t.dataType !== DT.FLOAT16) || elementCount(tensorDims(t)) < minElements) continue;
      const by = readers.get(t.name) ?? [];
      out.push({
        name: t.name,
        node: by[0]?.replace(/^.* node '(.*)'$/, "$1") ?? "",
        reason: by.length ? `read by ${by.join(", ")}: no weight slot of an op compression covers` : "read by no node",
      });
    }
    for (const n of g.node) for (const s of subgraphsOf(n)) collect(s);
  };
  visit(model.graph!);
  collect(model.graph!);
  return out;
}

/**
 * Pure: the same model, recipe (and calibration ranges, for scheme 'static') always give the same bytes.
 * Constant nodes and constant chains are made initializers first (onnx/constants.ts), so that every recipe sees
 * the same weights. Throws what checkRecipe throws, and NothingToCompressError when no weight changes or the
 * result is not smaller than the original (`originalBytes`, its encoded size when the caller has it).
 */
export function compressModel(
  input: ModelProto,
  recipe: Recipe,
  ranges?: ActivationRanges,
  originalBytes?: number,
  hessians?: LayerHessians,
  maxima?: ChannelMaxima,
  memo?: RoundingMemo,
): CompressResult {
  const prepared = beforeQuantizing(input, recipe, maxima);
  const { prune, equalized, smoothed } = prepared;
  let model = prepared.model;
  const prunedBytes = prepared.pruned ? encodeModel(prepared.pruned).byteLength : null;
  let quantizedBytes: number | null = null;
  let tensors: TensorReport[] = [];
  let skipped: QuantizeResult["skipped"] = [];
  let activations: ActivationReport[] = [];
  const beforeQuantize = initializerNames(model);
  if (recipe.quantize) {
    const result = quantizeByRecipe(model, recipe.quantize, ranges, hessians, recipe.prune !== undefined, memo);
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
  const changed = tensors.length > 0 || (prune?.layers.some((l) => l.sparsity > 0) ?? false);
  if (!changed) {
    const looked = [...(prune?.skipped ?? []), ...skipped, ...uncoveredConstants(model, 0, beforeQuantize)];
    throw new NothingToCompressError("the recipe changes no weight of this model", looked);
  }
  // Without a sparse rewrite the quantized encoding is the output: encoding 20+ MB twice was a tenth of the time.
  const out = bytes ?? encodeModel(model);
  // A quantizing recipe must make the file smaller; pruning alone may leave its size (the zeros compress later).
  const before = originalBytes ?? encodeModel(input).byteLength;
  if (recipe.quantize ? out.byteLength >= before : out.byteLength > before) {
    throw new NothingToCompressError(`the variant would take ${out.byteLength} bytes, the original ${before}`, [...skipped, ...uncoveredConstants(model, 0, beforeQuantize)]);
  }
  if (recipe.quantize) skipped.push(...uncoveredConstants(model, REPORTED_UNCOVERED, beforeQuantize));
  return { bytes: out, tensors, skipped, activations, prune, ...(equalized ? { equalized } : {}), ...(smoothed ? { smoothed } : {}), prunedBytes, quantizedBytes };
}

/** What compressModel quantizes: the recipe checked, then the model pruned, equalized and smoothed as it says. */
function beforeQuantizing(input: ModelProto, recipe: Recipe, maxima?: ChannelMaxima) {
  const normalized = normalizeConstants(input);
  checkRecipe(normalized, recipe);
  let model = normalized;
  let prune: CompressResult["prune"];
  let pruned: ModelProto | undefined;
  if (recipe.prune) {
    const result = pruneModel(densifyInitializers(model), recipe.prune);
    model = pruned = result.model;
    prune = { sparsity: result.sparsity, layers: result.layers, skipped: result.skipped, warnings: result.warnings, sparseTensors: [] as SparseReport[] };
  }
  let equalized: EqualizedPair[] | undefined;
  if (recipe.quantize?.equalize) {
    const result = equalizeModel(model);
    model = result.model;
    equalized = result.pairs;
  }
  let smoothed: SmoothedActivation[] | undefined;
  const smoothing = recipe.quantize ? smoothingOf(recipe.quantize) : undefined;
  if (smoothing) {
    const result = smoothByRecipe(model, recipe.quantize!, smoothing.alpha, maxima);
    model = result.model;
    smoothed = result.smoothed;
  }
  return { model, prune, pruned, equalized, smoothed };
}

/**
 * Compensated rounding of the weights `hessians` cover, remembered in `memo` for compressModel to take: the model's
 * layers a part at a time, where all their Hessians together would not fit in memory (catalog/variants.ts). Nothing
 * is encoded; the other weights round to nearest and are forgotten. The event loop gets a turn after each weight and
 * between the pieces of each compensated rounding (quantize/stepped.ts), so that no stretch of this work holds the
 * isolate for more than a fraction of a second.
 */
export async function roundCompensated(input: ModelProto, recipe: Recipe, ranges: ActivationRanges | undefined, hessians: LayerHessians, maxima: ChannelMaxima | undefined, memo: RoundingMemo): Promise<void> {
  const { model } = beforeQuantizing(input, recipe, maxima);
  const deferred: Generator<void, void, void>[] = [];
  await inTurns(quantizeByRecipeSteps(model, recipe.quantize!, ranges, hessians, recipe.prune !== undefined, false, memo, deferred), deferred);
}

/**
 * The model whose activations static calibration measures for a recipe: the model itself, or with `equalize` and
 * `smooth` what quantization will see (pruned per the recipe, then equalized, then smoothed by `maxima`, as
 * compressModel does), since both rescale the tensors that static quantization gives ranges. Without `maxima` a
 * smoothing recipe's model is given unsmoothed: what the channel maxima are measured on.
 */
export function calibratedModel(input: ModelProto, recipe: Recipe, maxima?: ChannelMaxima): ModelProto {
  const q = recipe.quantize;
  const smoothing = q ? smoothingOf(q) : undefined;
  if (!q || (!q.equalize && !smoothing)) return input;
  let model = normalizeConstants(input);
  if (recipe.prune) model = pruneModel(densifyInitializers(model), recipe.prune).model;
  if (q.equalize) model = equalizeModel(model).model;
  if (smoothing && maxima) model = smoothByRecipe(model, q, smoothing.alpha, maxima).model;
  return model;
}

/** Activations static calibration measures channel maxima of, for a smoothing recipe (on calibratedModel's model). */
export function smoothingActivations(model: ModelProto, recipe: Recipe): string[] {
  const q = recipe.quantize;
  if (!q || !smoothingOf(q)) return [];
  const bits = layerBits(model, q);
  return smoothingTargets(normalizeConstants(model), (label) => bits.get(label) === 8).map((t) => t.activation);
}

/** SmoothQuant over the layers the recipe keeps at 8 bits. */
function smoothByRecipe(model: ModelProto, q: QuantizeRecipe, alpha: number, maxima: ChannelMaxima | undefined) {
  if (!maxima) throw new RangeError("smooth needs the calibration channel maxima (catalog/calibration.ts collectChannelMaxima)");
  const bits = layerBits(model, q);
  return smoothModel(model, maxima, alpha, (label) => bits.get(label) === 8);
}

export interface QuantizeByRecipeResult extends QuantizeResult {
  activations: ActivationReport[];
}

/**
 * The weighted layers of a model as compression sees them (the operator table's ops with a constant weight, after
 * constant normalization, bodies included), one per node (its first weight), in graph order.
 */
export function weightedLayers(model: ModelProto): { name: string; op: string; weight: string }[] {
  const seen = new Set<string>();
  return layersOf(normalizeConstants(model).graph!).flatMap((l) => {
    if (seen.has(l.label)) return [];
    seen.add(l.label);
    return [{ name: l.label, op: l.node.opType, weight: l.weight.name }];
  });
}

/** Bit-width per layer name; null leaves the layer float. */
export function layerBits(model: ModelProto, q: QuantizeRecipe): Map<string, number | null> {
  const exclude = new Set(q.exclude ?? []);
  const bits = new Map<string, number | null>();
  for (const layer of weightedLayers(model)) {
    if (bits.has(layer.name)) continue;
    const excluded = exclude.has(layer.name) || exclude.has(layer.op);
    const b = excluded ? null : q.bits === undefined ? recipeBits({ quantize: q }) : (q.overrides?.[layer.name] ?? q.bits);
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
  for (const name of Object.keys((q.bits !== undefined && q.overrides) || {})) {
    if (!known.has(name)) throw new RecipeMismatchError(`overrides: '${name}' is not a quantizable layer of this model (${[...known].join(", ")})`);
  }
  for (const name of q.exclude ?? []) {
    if (!known.has(name) && !ops.has(name) && !model.graph!.node.some((n) => n.opType === name)) {
      throw new RecipeMismatchError(`exclude: '${name}' names no layer or op type of this model`);
    }
  }
}

/**
 * Quantizes per the recipe's `quantize` part: exclusions, per-node overrides, then the scheme's passes. `pruned`
 * says the recipe pruned first: a codebook then keeps zeros exact, outside the clusters.
 */
export function quantizeByRecipe(
  model: ModelProto,
  q: QuantizeRecipe,
  ranges?: ActivationRanges,
  hessians?: LayerHessians,
  pruned = false,
  memo?: RoundingMemo,
): QuantizeByRecipeResult {
  return inMemory(quantizeByRecipeSteps(model, q, ranges, hessians, pruned, false, memo));
}

/**
 * quantizeByRecipe one weight at a time (quantize/index.ts QuantizeStep); `readsExternal` as quantizeModelSteps takes
 * it. With `deferred` (and a memo), each compensated rounding is not run in the pass: its steps are pushed there, to
 * be run before the next weight, and remember the rounding in the memo; the pass's own encoding takes nearest levels
 * in the meantime, so what it encodes is not the variant (roundCompensated keeps only the memo).
 */
export function* quantizeByRecipeSteps(
  model: ModelProto,
  q: QuantizeRecipe,
  ranges: ActivationRanges | undefined,
  hessians: LayerHessians | undefined,
  pruned: boolean,
  readsExternal: boolean,
  memo?: RoundingMemo,
  deferred?: Generator<void, void, void>[],
): QuantizeSteps<QuantizeByRecipeResult> {
  checkLayerNames(model, q);
  const rounding = roundingOf(q);
  const roundingFor = rounding ? compensatedRounding(model, requireHessians(hessians), rounding, memo, deferred) : undefined;
  const bits = layerBits(model, q);
  const bitsOf = (node: NodeProto) => bits.get(nodeLabel(node));
  // A static recipe's QuantizeLinear needs opset 10: an older model is lifted first, so its weights take the forms
  // of the opset it will have.
  let current = q.scheme === "static" ? staticOpsetModel(model) : model;
  const tensors: QuantizeResult["tensors"] = [];
  const skipped: QuantizeResult["skipped"] = [];
  if (q.scheme === "dynamic") {
    const r = quantizeDynamic(current, (n) => bitsOf(n) === 8, q.bits === 8 && q.granularity === "per-tensor" ? "per-tensor" : "per-channel");
    current = r.model;
    tensors.push(...r.tensors);
  }
  // Layers the recipe keeps float are candidates left, with that reason.
  for (const layer of layersOf(model.graph!)) {
    if (bits.get(layer.label) !== null) continue;
    const excluded = (q.exclude ?? []).some((x) => x === layer.label || x === layer.node.opType);
    skipped.push({ name: layer.weight.name, node: layer.label, reason: excluded ? "excluded by the recipe" : "kept float by the recipe (bits 32)" });
  }
  if (q.bits === undefined) {
    const include = (n: NodeProto) => bitsOf(n) != null;
    const r = q.codebook
      ? yield* quantizeModelSteps(current, { codebook: { ...q.codebook, exactZeros: pruned }, include }, readsExternal)
      : yield* quantizeModelSteps(current, { pq: { ...q.pq!, ...(q.calibration ? { hessianFor: hessianOnly(weightHessians(model, requireHessians(hessians))) } : {}) }, include }, readsExternal);
    return { model: r.model, tensors: r.tensors, skipped: [...skipped, ...r.skipped], activations: [] };
  }
  const widths = [...new Set([...bits.values()].filter((b): b is number => b !== null))].sort((a, b) => b - a);
  for (const b of widths) {
    // Remaining layers of this width (all of them, or those a dynamic rewrite declined) get weight-only.
    const options: QuantizeOptions = { ...quantizeOptions(q, b), include: (n: NodeProto) => bitsOf(n) === b, ...(roundingFor ? { roundingFor } : {}) };
    const r = yield* quantizeModelSteps(current, options, readsExternal);
    current = r.model;
    tensors.push(...r.tensors);
    skipped.push(...r.skipped);
  }
  let activations: ActivationReport[] = [];
  if (q.scheme === "static") {
    const layers = new Map([...staticDataInputs(model.graph!)].filter(([name]) => (bits.get(name) ?? null) !== null));
    const r = quantizeActivations(current, ranges ?? {}, layers);
    current = r.model;
    activations = r.activations;
    for (const x of r.missing) skipped.push({ name: x, node: x, reason: "no calibrated range for this activation" });
  }
  return { model: current, tensors, skipped, activations };
}

/**
 * Per weight: the first layer that reads it (of the Hessian targets), and its input Hessian (summed where several
 * layers share the weight) when every reader's statistics match the weight's matrix view `gemm`.
 */
function weightHessians(model: ModelProto, hessians: LayerHessians) {
  const byWeight = new Map<string, HessianTarget[]>();
  for (const t of hessianTargets(model)) byWeight.set(t.weight, [...(byWeight.get(t.weight) ?? []), t]);
  return {
    firstLayer: (weight: string): string | undefined => byWeight.get(weight)?.[0]?.layer,
    /**
     * The Hessian, and the cross statistics toward the float inputs where every reader has them (summed alike), with
     * the layout they are for: `gemm` itself, or its diagonal blocks where the statistics are blocked.
     */
    matrix(weight: string, gemm: GemmLayout): { hessian: Float64Array; cross?: Float64Array; layout: GemmLayout } | undefined {
      const stats = (byWeight.get(weight) ?? []).map((t) => hessians[t.layer]);
      const blocks = stats[0]?.blocks ?? 1;
      if (stats.length === 0 || stats.some((h) => !h || h.features !== gemm.K || h.groups !== gemm.groups || (h.blocks ?? 1) !== blocks || h.rows === 0)) return undefined;
      const layout = blocks === 1 ? gemm : blockedLayout(gemm, blocks);
      if (!layout) return undefined;
      // In float64 for the rounding, whatever the statistics were kept in.
      const sum = (of: (h: LayerHessians[string]) => Float64Array | Float32Array | undefined): Float64Array | undefined => {
        const parts = stats.map((h) => of(h!));
        if (parts.some((p) => p === undefined)) return undefined;
        if (parts.length === 1) return parts[0] instanceof Float64Array ? parts[0] : Float64Array.from(parts[0]!);
        const total = new Float64Array(parts[0]!.length);
        for (const p of parts) for (let i = 0; i < total.length; i++) total[i] = total[i]! + p![i]!;
        return total;
      };
      const cross = sum((h) => h.cross);
      return { hessian: sum((h) => h.matrix)!, ...(cross ? { cross } : {}), layout };
    },
  };
}

/** PQ's view: the Hessian alone (its calibration measures quantized inputs with no float target). */
function hessianOnly(h: ReturnType<typeof weightHessians>) {
  return (weight: string, gemm: GemmLayout): Float64Array | undefined => {
    const m = h.matrix(weight, gemm);
    return m && m.layout === gemm ? m.hessian : undefined;
  };
}

function requireHessians(hessians: LayerHessians | undefined): LayerHessians {
  if (!hessians) throw new RangeError("compensated rounding needs the calibration Hessians (catalog/calibration.ts collectHessians)");
  return hessians;
}

/**
 * GPTQ or AdaRound for each weight the targets cover, over the Hessians of the layers that read it (summed where
 * several share it), in the operator table's matrix view of the weight; other weights round to nearest.
 */
function compensatedRounding(model: ModelProto, hessians: LayerHessians, rounding: Rounding, memo?: RoundingMemo, deferred?: Generator<void, void, void>[]): NonNullable<QuantizeOptions["roundingFor"]> {
  const h = weightHessians(model, hessians);
  const layers = new Map(layersOf(model.graph!).map((l) => [nodeLabel(l.node), l]));
  const made = (weight: string, dims: readonly number[]): LevelRounding | undefined => {
    const first = h.firstLayer(weight);
    const layer = first === undefined ? undefined : layers.get(first);
    const gemm = layer?.operator.gemm(layer.node, dims);
    const stats = gemm && h.matrix(weight, gemm);
    if (!stats) return undefined;
    const { layout } = stats;
    const inner = rounding.method === "gptq" ? gptqRounding(stats.hessian, layout, rounding) : adaroundRounding(stats.hessian, layout, rounding);
    // Measured on quantized inputs: round toward the float model's outputs (quantize/float-target.ts).
    const dampening = rounding.method === "gptq" ? rounding.dampening : GPTQ_DEFAULTS.dampening;
    return stats.cross ? towardFloatOutputs(inner, stats.hessian, stats.cross, layout, dampening) : inner;
  };
  if (!memo) return made;
  return (weight, dims) => {
    const known = memo.get(weight);
    if (known) return recalled(weight, known);
    const round = made(weight, dims);
    if (!round) return undefined;
    if (!deferred) return remembered(weight, round, memo);
    return (data, grid) => {
      deferred.push(rememberedSteps(weight, round, Float32Array.from(data), grid, memo));
      return nearestLevels(data, grid);
    };
  };
}

/**
 * Roundings already made, by weight, with the grid scales each was made on: what a later pass over the same weights
 * takes instead of rounding again. Levels are kept in a byte each (compensated rounding goes to 8 bits at most).
 */
export type RoundingMemo = Map<string, { gridScales: Float32Array; levels: Int8Array | Uint8Array; scales: Float32Array }>;

function remembered(weight: string, round: LevelRounding, memo: RoundingMemo): LevelRounding {
  return (data, grid) => remember(weight, grid, round(data, grid), memo);
}

/** A rounding's steps (quantize/stepped.ts), its result remembered at their end. */
function* rememberedSteps(weight: string, round: LevelRounding, data: Float32Array, grid: AffineGrid, memo: RoundingMemo): Generator<void, void, void> {
  remember(weight, grid, yield* stepsOf(round, data, grid), memo);
}

function remember(weight: string, grid: AffineGrid, out: Rounded, memo: RoundingMemo): Rounded {
  const levels = grid.qmin >= -128 && grid.qmax <= 127 ? Int8Array.from(out.levels) : Uint8Array.from(out.levels);
  memo.set(weight, { gridScales: Float32Array.from(grid.scales), levels, scales: Float32Array.from(out.scales) });
  return out;
}

/** A remembered rounding, on the grid it was made on: the same weight and recipe give the same grid, so any other is a bug. */
function recalled(weight: string, known: RoundingMemo extends Map<string, infer V> ? V : never): LevelRounding {
  return (_data, grid) => {
    const same = grid.scales.length === known.gridScales.length && grid.scales.every((s, i) => Object.is(s, known.gridScales[i]));
    if (!same) throw new RangeError(`compensated rounding of ${weight}: the grid differs from the one its rounding was made on`);
    return { levels: Int32Array.from(known.levels), scales: Float32Array.from(known.scales) };
  };
}
