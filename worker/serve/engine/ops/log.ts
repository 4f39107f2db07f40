// Log (natural); folds on constants.
import { unaryMap } from "../elementwise";

export const log = unaryMap("Log");
