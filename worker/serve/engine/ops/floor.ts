// Floor; folds on constants.
import { unaryMap } from "../elementwise";

export const floor = unaryMap("Floor");
