// Mish (opset 18): x * tanh(softplus(x)).
import { unaryMap } from "../elementwise";

export const mish = unaryMap("Mish");
