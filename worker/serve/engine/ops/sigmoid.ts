// Sigmoid, computed in float64 and stored as float32; folds on constants.
import { unaryMap } from "../elementwise";

export const sigmoid = unaryMap("Sigmoid");
