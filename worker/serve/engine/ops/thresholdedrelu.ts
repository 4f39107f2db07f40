// ThresholdedRelu: x above alpha, else 0 (alpha 1 by default).
import { floatAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const thresholdedrelu = unaryMap("ThresholdedRelu", (ctx) => ({ alpha: floatAttribute(ctx.node, "alpha", 1), beta: 0 }));
