// Neg; an integer constant stays an integer.
import { unaryMap } from "../elementwise";

export const neg = unaryMap("Neg");
