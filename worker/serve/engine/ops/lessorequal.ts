// LessOrEqual with numpy broadcasting: bool (1/0 at run time).
import { binaryKind } from "../elementwise";

export const lessorequal = binaryKind("LessOrEqual");
