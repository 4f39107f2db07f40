// Or of bools with numpy broadcasting.
import { binaryKind } from "../elementwise";

export const or = binaryKind("Or");
