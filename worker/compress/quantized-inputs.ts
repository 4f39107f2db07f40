// Hessians measured on quantized inputs, as "And the bit goes down" (Stock et al. 2019) calibrates product
// quantization and `inputs: "quantized"` calibrates GPTQ and AdaRound: each layer's output error is minimised on the
// activations it sees once every layer upstream of it is quantized, not on the float model's. Level by level
// (operators.ts layerLevels): the first level's inputs are the float model's; for each next level, the model with the
// levels below compressed (with the statistics found so far) is measured for that level's layers. Running a model is
// the caller's (`measure`, which for GPTQ and AdaRound also measures the cross statistics toward the float model's
// inputs), so this is pure over the graph.
import type { ModelProto } from "onnx-buf";
import { DomainError } from "../domain-error";
import { hessianTargets, type LayerHessians } from "./calibrate/hessian";
import { calibratedModel, compressModel } from "./pipeline";
import type { Recipe } from "./recipe";
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
