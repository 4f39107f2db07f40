// LeakyRelu: x, or alpha * x below 0 (alpha 0.01 by default), on the kernels (f32_leaky_rows with one slope).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const leakyrelu = unaryMap(
  "LeakyRelu",
  (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 0.01), beta: 0 }),
  (run, a, y, p) => run.kx.k.f32_leaky_rows(1, sizeOf(a.dims), a.ptr, 0, p.alpha, y.ptr),
);
