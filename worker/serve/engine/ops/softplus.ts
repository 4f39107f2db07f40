// Softplus: log(1 + e^x), computed without overflow (torch writes Mish as Softplus, Tanh and Mul).
import { unaryMap } from "../elementwise";

export const softplus = unaryMap("Softplus");
