// Add with numpy broadcasting (a per-channel constant after a linear op is fused into its epilogue instead); integer
// constants (shape arithmetic) fold as integers.
import { binaryKind } from "../elementwise";

export const add = binaryKind("Add");
