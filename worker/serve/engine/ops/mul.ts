// Mul with numpy broadcasting; folds at load when both operands are constant (e.g. a Cast int8 weight times its scale).
import { binaryKind } from "../elementwise";

export const mul = binaryKind("Mul");
