// Abs; an integer constant stays an integer.
import { unaryMap } from "../elementwise";

export const abs = unaryMap("Abs");
