// Exp; folds on constants.
import { unaryMap } from "../elementwise";

export const exp = unaryMap("Exp");
