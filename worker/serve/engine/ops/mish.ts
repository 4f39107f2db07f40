// Mish (opset 18): x * tanh(softplus(x)), on the kernels (f32_exp_activation).
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const mish = unaryMap("Mish", undefined, (run, a, y) => run.kx.k.f32_exp_activation(4, sizeOf(a.dims), 0, 0, a.ptr, y.ptr));
