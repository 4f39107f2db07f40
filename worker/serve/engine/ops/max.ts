// Max of one or more operands with numpy broadcasting.
import { binaryKind } from "../elementwise";

export const max = binaryKind("Max");
