// ReduceL1 over axes (see reduce.ts for the axes, keepdims and noop_with_empty_axes rules).
import { reduceOp } from "./reduce";

export const reducel1 = reduceOp("L1");
