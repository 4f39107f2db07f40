// Elu: x, or alpha * (e^x - 1) below 0 (alpha 1 by default).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const elu = unaryMap("Elu", (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 1), beta: 0 }));
