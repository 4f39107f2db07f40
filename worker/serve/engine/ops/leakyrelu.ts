// LeakyRelu: x, or alpha * x below 0 (alpha 0.01 by default).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const leakyrelu = unaryMap("LeakyRelu", (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 0.01), beta: 0 }));
