// Sign: -1, 0 or 1 (NaN stays NaN); an integer constant stays an integer.
import { unaryMap } from "../elementwise";

export const sign = unaryMap("Sign");
