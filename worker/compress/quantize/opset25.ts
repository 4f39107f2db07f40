// Lifting a model from opset 13-24 to 25, so 2-bit and 1-bit weights can be stored as INT2 behind DequantizeLinear
// (tensor(int2) is accepted from DequantizeLinear-25; onnxruntime 1.30 rejects it at 24). Only when every op means
// the same at 25: the ops that are stable from 13 to 21 (opset21.ts) did not change meaning up to 25 either, since
// 22 only added bfloat16, 23 float4e2m1 (and QuantizeLinear's `precision`, default = the old behaviour), 24
// float8e8m0 (and Cast's `round_mode`, which applies to float8e8m0 only) and 25 int2/uint2. Ops added or redefined
// in 22-25 (Attention, RMSNormalization, RotaryEmbedding, Swish, TensorScatter, TopK, ...) are not on that list.
import type { ModelProto } from "onnx-buf";
import { defaultOpset } from "../../onnx/validate";
import { STABLE_FROM_13 } from "./opset21";

export const INT2_OPSET = 25;

/** What the int8 dynamic pass writes, unchanged since opset 10/11: a dynamic recipe with 2-bit overrides lifts too. */
const INTEGER_OPS = new Set(["DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"]);

/** The IR version onnxruntime 1.30 was checked with for INT2 initializers. */
const INT2_IR_VERSION = 13n;

/** The model at opset 25 (IR 13 at least), or why it cannot be lifted. */
export function liftToOpset25(model: ModelProto): { model: ModelProto } | { reason: string } {
  const opset = defaultOpset(model);
  const lifted = (m: ModelProto) => ({ model: m.irVersion < INT2_IR_VERSION ? { ...m, irVersion: INT2_IR_VERSION } : m });
  if (opset >= INT2_OPSET) return lifted(model);
  if (opset < 13) return { reason: `int2 weights need opset ${INT2_OPSET}; opset ${opset} models are not lifted (opsets below 13 lack per-axis DequantizeLinear)` };
  const foreign = model.graph!.node.filter(
    (n) => (n.domain !== "" && n.domain !== "ai.onnx") || !(STABLE_FROM_13.has(n.opType) || INTEGER_OPS.has(n.opType)),
  );
  const unstable = [...new Set(foreign.map((n) => (n.domain && n.domain !== "ai.onnx" ? `${n.domain}.${n.opType}` : n.opType)))];
  if (unstable.length > 0) {
    return { reason: `int2 weights need opset ${INT2_OPSET}; lifting from ${opset} is not known safe for ${unstable.join(", ")}` };
  }
  const opsetImport = model.opsetImport.map((o) => (o.domain === "" || o.domain === "ai.onnx" ? { ...o, version: BigInt(INT2_OPSET) } : o));
  return lifted({ ...model, opsetImport });
}
