// Sum of one or more operands with numpy broadcasting (older exporters write residual sums this way).
import { variadicOp } from "../elementwise";

export const sum = variadicOp("Sum");
