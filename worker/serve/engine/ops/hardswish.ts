// HardSwish: x * clamp(x / 6 + 1/2, 0, 1) (MobileNetV3's activation), on the kernels (f32_hardswish); also the node
// fusion.ts makes of the HardSigmoid then Mul that exporters write before opset 14. Folded on constants.
import { unaryMap } from "../elementwise";
import { sizeOf } from "../values";

export const hardswish = unaryMap("HardSwish", undefined, (run, a, y) => run.kx.k.f32_hardswish(sizeOf(a.dims), 1 / 6, 0.5, a.ptr, y.ptr));
