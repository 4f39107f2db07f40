// ReduceL2 over axes (see reduce.ts for the axes, keepdims and noop_with_empty_axes rules).
import { reduceOp } from "./reduce";

export const reducel2 = reduceOp("L2");
