// LogSoftmax along `axis` (opset >= 13, default -1), or over the 2-D coercion at `axis` (opset < 13, default 1):
// softmax.ts computes it beside Softmax.
import { softmaxOp } from "./softmax";

export const logsoftmax = softmaxOp(true);
