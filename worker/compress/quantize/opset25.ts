// Lifting a model from opset 7-24 to 25, so 2-bit and 1-bit weights can be stored as INT2 behind DequantizeLinear
// (tensor(int2) is accepted from DequantizeLinear-25; onnxruntime 1.30 rejects it at 24). worker/onnx/lift decides
// per op (OP_HISTORY); 22-25 mostly added types (bfloat16, float4e2m1, float8e8m0, int2), Attention-24 refuses.
import type { ModelProto } from "onnx-buf";
import { liftDefaultOpset } from "../../onnx/lift";

export const INT2_OPSET = 25;

/** The IR version onnxruntime 1.30 was checked with for INT2 initializers. */
const INT2_IR_VERSION = 13n;

/** The model at opset 25 (IR 13 at least), or why it cannot be lifted. */
export function liftToOpset25(model: ModelProto): { model: ModelProto } | { reason: string } {
  const lifted = liftDefaultOpset(model, INT2_OPSET);
  if ("reason" in lifted) return { reason: `int2 weights need opset ${INT2_OPSET}; ${lifted.reason}` };
  const m = lifted.model;
  return { model: m.irVersion < INT2_IR_VERSION ? { ...m, irVersion: INT2_IR_VERSION } : m };
}
