// Hessians measured on quantized inputs, as "And the bit goes down" (Stock et al. 2019) calibrates product
// quantization and `inputs: "quantized"` calibrates GPTQ and AdaRound: each layer's output error is minimised on the
// activations it sees once every layer upstream of it is quantized, not on the float model's. Level by level
// (operators.ts layerLevels): the first level's inputs are the float model's; for each next level, the model with the
// levels below compressed (with the statistics found so far) is measured for that level's layers. Running a model is
// the caller's (`measure`, which for GPTQ and AdaRound also measures the cross statistics toward the float model's
// inputs), so this is pure over the graph. GPTQ and AdaRound round each level as soon as it is measured
// (quantizedInputRoundings), so that a level's statistics are dropped before the next is measured.
import type { ModelProto } from "onnx-buf";
import { DomainError } from "../domain-error";
import { compensatedTargets, hessianParts, hessianTargets, type LayerHessians } from "./calibrate/hessian";
import { calibratedModel, compressModel, roundCompensated, type RoundingMemo } from "./pipeline";
import { roundingOf, type Recipe } from "./recipe";
import type { ActivationRanges } from "./calibrate";
import type { ChannelMaxima } from "./smooth";

/** The Hessians of `layers`' inputs when `bytes` (a model compression made) runs over the calibration samples. */
export type MeasureHessians = (bytes: Uint8Array, layers: ReadonlySet<string>) => Promise<LayerHessians>;

/**
 * Every layer's Hessian on the inputs it sees with the layers upstream quantized: `float` holds the float model's
 * (right for the first level); one `measure` per further level. `onLevel` hears each level measured. A static recipe's
 * levels below are compressed with its `calibrated` ranges (and SmoothQuant maxima), as the variant will be.
 */
export async function quantizedInputHessians(
  model: ModelProto,
  recipe: Recipe,
  float: LayerHessians,
  measure: MeasureHessians,
  onLevel: (level: number, levels: number) => Promise<void> = async () => {},
  calibrated: { ranges?: ActivationRanges; maxima?: ChannelMaxima } = {},
): Promise<LayerHessians> {
  const hessians = { ...float };
  const targets = hessianTargets(calibratedModel(model, recipe));
  const levels = Math.max(0, ...targets.map((t) => t.level));
  const q = recipe.quantize!;
  for (let level = 2; level <= levels; level++) {
    const later = targets.filter((t) => t.level >= level).map((t) => t.layer);
    const below: Recipe = { ...recipe, quantize: { ...q, exclude: [...new Set([...(q.exclude ?? []), ...later])].sort() } };
    let bytes: Uint8Array;
    try {
      bytes = compressModel(model, below, calibrated.ranges, undefined, hessians, calibrated.maxima).bytes;
    } catch (e) {
      // Nothing below this level is compressed (too small, or excluded): its layers see the float inputs measured.
      if (e instanceof DomainError && e.code === "nothing_to_compress") continue;
      throw e;
    }
    Object.assign(hessians, await measure(bytes, new Set(targets.filter((t) => t.level === level).map((t) => t.layer))));
    await onLevel(level, levels);
  }
  return hessians;
}

/** The float model's statistics of `layers`' inputs. */
export type MeasureFloat = (layers: ReadonlySet<string>) => Promise<LayerHessians>;

/**
 * GPTQ's or AdaRound's roundings on quantized inputs, level by level: each level's layers are measured (`measure`) on
 * the model with the levels below compressed, those levels' weights taken from the roundings already made, then
 * rounded. The first level, a level with nothing below it compressed, and layers the quantized run gives no
 * statistics for are measured on the float model (`measureFloat`). Only the level being rounded holds statistics,
 * with those of layers whose weight a deeper layer reads too: such a weight is rounded once all its readers are
 * measured (the levels in between see it rounded to nearest). A level whose Hessians take more than `maxBytes` is
 * measured and rounded a part at a time (hessianParts). Each rounding is made once; compressModel takes the returned
 * roundings for the variant.
 */
export async function quantizedInputRoundings(
  model: ModelProto,
  recipe: Recipe,
  measureFloat: MeasureFloat,
  measure: MeasureHessians,
  onLevel: (level: number, levels: number) => Promise<void> = async () => {},
  calibrated: { ranges?: ActivationRanges; maxima?: ChannelMaxima } = {},
  maxBytes = Infinity,
): Promise<RoundingMemo> {
  const memo: RoundingMemo = new Map();
  const all = hessianTargets(calibratedModel(model, recipe));
  const targets = compensatedTargets(calibratedModel(model, recipe), roundingOf(recipe.quantize!)?.blockInputs);
  const levels = Math.max(0, ...all.map((t) => t.level));
  const deepest = new Map<string, number>();
  for (const t of targets) deepest.set(t.weight, Math.max(deepest.get(t.weight) ?? 0, t.level));
  const q = recipe.quantize!;
  let pending: LayerHessians = {};
  for (let level = 1; level <= levels; level++) {
    const here = targets.filter((t) => t.level === level);
    if (here.length === 0) continue;
    let below: Uint8Array | undefined;
    if (level > 1) {
      const later = all.filter((t) => t.level >= level).map((t) => t.layer);
      const recipeBelow: Recipe = { ...recipe, quantize: { ...q, exclude: [...new Set([...(q.exclude ?? []), ...later])].sort() } };
      try {
        below = compressModel(model, recipeBelow, calibrated.ranges, undefined, {}, calibrated.maxima, memo).bytes;
      } catch (e) {
        // Nothing below this level is compressed (too small, or excluded): its layers see the float inputs.
        if (!(e instanceof DomainError && e.code === "nothing_to_compress")) throw e;
      }
    }
    // A level whose statistics are past the bound is measured and rounded a part at a time, on the same model below.
    for (const part of hessianParts(here, maxBytes)) {
      const layers = new Set(part.map((t) => t.layer));
      let measured: LayerHessians = below ? await measure(below, layers) : {};
      const missing = new Set([...layers].filter((l) => !measured[l]));
      if (missing.size > 0) measured = { ...measured, ...(await measureFloat(missing)) };
      const hessians = { ...pending, ...measured };
      await roundCompensated(model, recipe, calibrated.ranges, hessians, calibrated.maxima, memo);
      const kept = targets.filter((t) => hessians[t.layer] && deepest.get(t.weight)! > level);
      pending = Object.fromEntries(kept.map((t) => [t.layer, hessians[t.layer]!]));
    }
    await onLevel(level, levels);
  }
  return memo;
}
