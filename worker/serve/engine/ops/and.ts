// And of bools with numpy broadcasting.
import { binaryKind } from "../elementwise";

export const and = binaryKind("And");
