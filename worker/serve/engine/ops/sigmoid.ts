// Sigmoid, computed in float64 and stored as float32.
import { unaryOp } from "../elementwise";

export const sigmoid = unaryOp((x) => 1 / (1 + Math.exp(-x)));
