// GreaterOrEqual with numpy broadcasting: bool (1/0 at run time).
import { binaryKind } from "../elementwise";

export const greaterorequal = binaryKind("GreaterOrEqual");
