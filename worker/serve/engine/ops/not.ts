// Not of a bool tensor (run-time bools are float 0/1); folds to a bool constant.
import { unaryMap } from "../elementwise";

export const not = unaryMap("Not");
