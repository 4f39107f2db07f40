// Ceil; folds on constants.
import { unaryMap } from "../elementwise";

export const ceil = unaryMap("Ceil");
