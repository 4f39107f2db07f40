// PRelu: x, or slope * x below 0, the slope broadcast to x (one per channel as [C, 1, 1], or one for all).
import { binaryKind } from "../elementwise";

export const prelu = binaryKind("PRelu");
