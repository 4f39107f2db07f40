// Swish (opset 24): x * sigmoid(alpha * x), one pass on the kernels (f32_swish). Also the node fusion.ts makes of the
// SiLU exporters write as Sigmoid then Mul (EfficientNet, YOLO), where two passes and a tensor between them were.
import { floatAttribute } from "../../../onnx/attributes";
import { mapStep } from "../elementwise";
import type { Op } from "../op";
import { sizeOf } from "../values";

export const swish: Op = {
  plan(ctx) {
    const alpha = floatAttribute(ctx.node, "alpha", 1);
    return mapStep(ctx, (run, a, y) => run.kx.k.f32_swish(sizeOf(a.dims), alpha, a.ptr, y.ptr));
  },
};
