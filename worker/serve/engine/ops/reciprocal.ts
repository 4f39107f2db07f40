// Reciprocal: 1 / x; folds on constants.
import { unaryMap } from "../elementwise";

export const reciprocal = unaryMap("Reciprocal");
