// Celu: max(0, x) + min(0, alpha * (e^(x / alpha) - 1)) (alpha 1 by default), on the kernels (f32_exp_activation).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const celu = unaryMap(
  "Celu",
  (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 1), beta: 0 }),
  (run, a, y, p) => run.kx.k.f32_exp_activation(2, sizeOf(a.dims), p.alpha, p.beta, a.ptr, y.ptr),
);
