// Calibration run: the model with its layer inputs exposed as outputs runs over the recipe's dataset in
// onnxruntime-web, and each activation's values feed the recipe's calibrator (minmax, percentile, entropy). With
// `equalize` the model calibrated is the equalized one (compress/pipeline.ts calibratedModel), whose ranges quantization
// then uses.
import { calibrationTargets, makeCalibrator, type ActivationRanges } from "../compress/calibrate";
import { calibratedModel } from "../compress/pipeline";
import { calibrationOf, type Recipe } from "../compress/recipe";
import { encodeModel } from "../onnx/codec";
import { withExtraOutputs } from "../onnx/outputs";
import { forEachBatch } from "../evaluate/runner";
import { openSession } from "../serve/sessions";
import type { TenantStore } from "../store/tenant";
import type { ModelRecord } from "./records";
import { loadDataset } from "./datasets";
import { parseModelBytes } from "./models";

export async function collectRanges(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
): Promise<ActivationRanges> {
  const calibration = calibrationOf(recipe.quantize!)!;
  const { dataset } = await loadDataset(store, calibration.dataset);
  const decoded = calibratedModel(parseModelBytes(original), recipe);
  const targets = calibrationTargets(decoded);
  const fromFeeds = new Set(model.inputs.map((i) => i.name));
  const exposed = encodeModel(withExtraOutputs(decoded, targets.filter((t) => !fromFeeds.has(t))));
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator(calibration.method, calibration.percentile)]));
  const session = await openSession(exposed, false, original.byteLength);
  try {
    await forEachBatch([session], dataset, model.inputs, calibration.samples, (_start, [out], feeds) => {
      for (const [t, c] of calibrators) {
        const feed = feeds[t];
        if (feed && feed.data instanceof Float32Array) c.observe(feed.data);
        else if (out![t]) c.observe(out![t]!.data);
      }
    });
  } finally {
    await session.release();
  }
  return Object.fromEntries([...calibrators].map(([t, c]) => [t, c.range()]));
}
