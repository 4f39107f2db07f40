// Div with numpy broadcasting; integers divide truncating toward zero (folded, or at run time beside an integer constant).
import { binaryKind } from "../elementwise";

export const div = binaryKind("Div");
