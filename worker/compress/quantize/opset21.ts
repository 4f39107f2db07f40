// Lifting a model from opset 13-20 to 21, so 4-bit weights can use INT4 DequantizeLinear with block_size. Only
// when every op in the graph means the same at 21 as at the model's opset (the list below); otherwise the model
// keeps its opset and its weights stay float, with the reason in the report.
import type { ModelProto } from "onnx-buf";
import { defaultOpset } from "../../onnx/validate";

/** Ops whose behaviour for valid 13+ models is unchanged up to opset 21 (later versions only added types or
 * optional attributes whose defaults keep the old meaning). */
export const STABLE_FROM_13 = new Set([
  "Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Conv", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Softmax",
  "LogSoftmax", "Flatten", "Reshape", "Transpose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
  "BatchNormalization", "Concat", "Identity", "Dropout", "DequantizeLinear", "QuantizeLinear", "Cast", "Constant",
  "Shape", "Gather", "Unsqueeze", "Squeeze", "Sqrt", "Pow", "Exp", "Log", "Erf", "Neg", "Abs",
]);

/** The model at opset 21 (IR 10), or a reason it cannot be lifted. */
export function liftToOpset21(model: ModelProto): { model: ModelProto } | { reason: string } {
  const opset = defaultOpset(model);
  if (opset >= 21) return { model };
  if (opset < 13) return { reason: `blocked and 4-bit weights need opset 21; opset ${opset} models are not lifted` };
  const unstable = [...new Set(model.graph!.node.filter((n) => (n.domain !== "" && n.domain !== "ai.onnx") || !STABLE_FROM_13.has(n.opType)).map((n) => n.opType))];
  if (unstable.length > 0) return { reason: `blocked and 4-bit weights need opset 21; lifting from ${opset} is not known safe for ${unstable.join(", ")}` };
  const opsetImport = model.opsetImport.map((o) => (o.domain === "" || o.domain === "ai.onnx" ? { ...o, version: 21n } : o));
  return { model: { ...model, opsetImport, irVersion: model.irVersion < 10n ? 10n : model.irVersion } };
}
