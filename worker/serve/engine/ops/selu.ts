// Selu: gamma * x above 0, else gamma * alpha * (e^x - 1), with ONNX's default alpha and gamma; on the kernels
// (f32_exp_activation).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const selu = unaryMap(
  "Selu",
  (ctx) => ({
    alpha: floatAttribute(ctx.node, "alpha", 1.67326319217681884765625),
    beta: floatAttribute(ctx.node, "gamma", 1.05070102214813232421875),
  }),
  (run, a, y, p) => run.kx.k.f32_exp_activation(1, sizeOf(a.dims), p.alpha, p.beta, a.ptr, y.ptr),
);
