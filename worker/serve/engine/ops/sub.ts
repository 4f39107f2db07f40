// Sub with numpy broadcasting; integer constants fold as integers.
import { binaryKind } from "../elementwise";

export const sub = binaryKind("Sub");
