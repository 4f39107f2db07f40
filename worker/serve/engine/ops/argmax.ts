// ArgMax (see argextreme.ts).
import { argOp } from "./argextreme";

export const argmax = argOp(true);
