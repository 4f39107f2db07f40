// HardSigmoid: clamp(alpha * x + beta, 0, 1), alpha 0.2 and beta 0.5 by default.
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const hardsigmoid = unaryMap("HardSigmoid", (ctx) => ({
  alpha: floatAttribute(ctx.node, "alpha", 0.2),
  beta: floatAttribute(ctx.node, "beta", 0.5),
}));
