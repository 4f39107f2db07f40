// Softsign: x / (1 + |x|).
import { unaryMap } from "../elementwise";

export const softsign = unaryMap("Softsign");
