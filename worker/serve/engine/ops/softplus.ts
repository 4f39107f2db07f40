// Softplus: log(1 + e^x) as max(x, 0) + log1p(e^-|x|), on the kernels (f32_exp_activation); torch writes Mish as
// Softplus, Tanh and Mul.
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const softplus = unaryMap("Softplus", undefined, (run, a, y) => run.kx.k.f32_exp_activation(3, sizeOf(a.dims), 0, 0, a.ptr, y.ptr));
