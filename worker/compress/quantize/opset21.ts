// Lifting a model from opset 7-20 to 21, so 4-bit and blocked 8-bit weights can use DequantizeLinear with
// block_size (and INT4). worker/onnx/lift decides per op (LEGACY_STEPS to 13, OP_HISTORY on): unchanged ops pass, Reduce*/Split/
// RoiAlign/GridSample/DFT/BatchNormalization are rewritten to keep their meaning, the rest refuse; a refused model
// keeps its opset and its weights stay float, with the reason in the report.
import type { ModelProto } from "onnx-buf";
import { liftDefaultOpset } from "../../onnx/lift";
import { defaultOpset } from "../../onnx/validate";

/** The model at opset 21 (IR 10 at least), or a reason it cannot be lifted. */
export function liftToOpset21(model: ModelProto): { model: ModelProto } | { reason: string } {
  if (defaultOpset(model) >= 21) return { model };
  const lifted = liftDefaultOpset(model, 21);
  if ("reason" in lifted) return { reason: `blocked and 4-bit weights need opset 21; ${lifted.reason}` };
  return { model: lifted.model.irVersion < 10n ? { ...lifted.model, irVersion: 10n } : lifted.model };
}
