// Elu: x, or alpha * (e^x - 1) below 0 (alpha 1 by default), on the kernels (f32_exp_activation).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const elu = unaryMap(
  "Elu",
  (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 1), beta: 0 }),
  (run, a, y, p) => run.kx.k.f32_exp_activation(0, sizeOf(a.dims), p.alpha, p.beta, a.ptr, y.ptr),
);
