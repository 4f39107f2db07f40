// Relu (fused into the preceding linear op when it follows one alone).
import { unaryOp } from "../elementwise";

export const relu = unaryOp((x) => (x < 0 ? 0 : x));
