// Celu: max(0, x) + min(0, alpha * (e^(x / alpha) - 1)) (alpha 1 by default).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const celu = unaryMap("Celu", (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 1), beta: 0 }));
