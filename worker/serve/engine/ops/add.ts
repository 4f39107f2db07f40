// Add with numpy broadcasting (a per-channel constant after a linear op is fused into its epilogue instead).
import { binaryOp } from "../elementwise";

export const add = binaryOp((x, y) => x + y);
