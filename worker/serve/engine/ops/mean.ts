// Mean of one or more operands with numpy broadcasting.
import { variadicOp } from "../elementwise";

export const mean = variadicOp("Mean");
