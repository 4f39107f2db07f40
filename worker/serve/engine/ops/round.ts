// Round: to the nearest integer, halves to even; an integer constant stays an integer.
import { unaryMap } from "../elementwise";

export const round = unaryMap("Round");
