// Sigmoid: on the kernels (f32_sigmoid, exp vectorised) at run time; folded in float64 on constants.
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const sigmoid = unaryMap("Sigmoid", undefined, (run, a, y) => run.kx.k.f32_sigmoid(sizeOf(a.dims), a.ptr, y.ptr));
