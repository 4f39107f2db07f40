// DepthToSpace (PixelShuffle; DCR mode by default, CRD as torch writes it from opset 11): channel blocks of
// blocksize^2 become blocksize x blocksize pixels. A copy by a layout: each output dim's source offset is its own sum
// (y = h * b + i reads row h of channel block i), so it folds on constants and runs as one remap.
import { intAttribute, stringAttribute } from "../../../onnx/attributes";
import { remapOp } from "../elementwise";
import type { Op } from "../op";

export const depthtospace: Op = {
  plan(ctx) {
    const b = intAttribute(ctx.node, "blocksize", 0);
    const crd = stringAttribute(ctx.node, "mode", "DCR") === "CRD";
    return remapOp(ctx, [], (dims) => {
      const [N, C, H, W] = dims as [number, number, number, number];
      if (dims.length !== 4 || b < 1 || C % (b * b) !== 0) throw new RangeError(`DepthToSpace blocksize ${b} does not fit dims [${dims}]`);
      const c = C / (b * b);
      const plane = H * W;
      // Source channel of output channel k at block (i, j): DCR (i * b + j) * c + k, CRD k * b^2 + i * b + j.
      const [kStep, iStep, jStep] = crd ? [b * b, b, 1] : [1, b * c, c];
      return {
        dims: [N, c, H * b, W * b],
        offsets: [
          Int32Array.from({ length: N }, (_, n) => n * C * plane),
          Int32Array.from({ length: c }, (_, k) => k * kStep * plane),
          Int32Array.from({ length: H * b }, (_, y) => (y % b) * iStep * plane + Math.floor(y / b) * W),
          Int32Array.from({ length: W * b }, (_, x) => (x % b) * jStep * plane + Math.floor(x / b)),
        ],
      };
    });
  },
};
