// IsInf: a bool per element, for +Infinity and/or -Infinity (detect_positive, detect_negative; both by default).
import { intAttribute } from "../../../onnx/attributes";
import { unaryMap } from "../elementwise";

export const isinf = unaryMap("IsInf", (ctx) => ({ alpha: intAttribute(ctx.node, "detect_positive", 1), beta: intAttribute(ctx.node, "detect_negative", 1) }));
