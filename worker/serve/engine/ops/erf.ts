// Erf to float32 accuracy (GELU's exact form writes it); folds on constants.
import { unaryMap } from "../elementwise";

export const erf = unaryMap("Erf");
