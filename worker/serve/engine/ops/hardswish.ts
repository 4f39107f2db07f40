// HardSwish: x * clamp(x / 6 + 1/2, 0, 1) (MobileNetV3's activation).
import { unaryMap } from "../elementwise";

export const hardswish = unaryMap("HardSwish");
