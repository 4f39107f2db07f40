// ArgMin (see argextreme.ts).
import { argOp } from "./argextreme";

export const argmin = argOp(false);
