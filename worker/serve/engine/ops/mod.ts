// Mod with numpy broadcasting: fmod 0 (integers) takes the divisor's sign, as Python's %; fmod 1 C's fmod, the
// dividend's. Mostly shape arithmetic (Swin's window padding: (w - H % w) % w), folded at load where it is constant.
import { intAttribute } from "../../../onnx/attributes";
import { binaryKind } from "../elementwise";
import type { Op } from "../op";

const mod = binaryKind("Mod");
const fmod = binaryKind("Fmod");

export const modOp: Op = {
  plan: (ctx) => (intAttribute(ctx.node, "fmod", 0) === 1 ? fmod : mod).plan(ctx),
};
