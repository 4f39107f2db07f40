// IsNaN: a bool per element.
import { unaryMap } from "../elementwise";

export const isnan = unaryMap("IsNaN");
