// Tanh.
import { unaryOp } from "../elementwise";

export const tanh = unaryOp(Math.tanh);
