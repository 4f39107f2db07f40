// Sqrt; folds on constants.
import { unaryMap } from "../elementwise";

export const sqrt = unaryMap("Sqrt");
