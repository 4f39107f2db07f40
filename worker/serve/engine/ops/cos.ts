// Cos (positional encodings computed in the graph; they fold when their input is constant).
import { unaryMap } from "../elementwise";

export const cos = unaryMap("Cos");
