// Pow with numpy broadcasting (the result has the base's type).
import { binaryKind } from "../elementwise";

export const pow = binaryKind("Pow");
