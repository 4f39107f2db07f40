// SpaceToDepth: blocksize x blocksize pixels become channel blocks of blocksize^2 (DepthToSpace's DCR inverse). A copy
// by a layout, each output dim's source offset its own sum: folds on constants, one remap at run time.
import { intAttribute } from "../../../onnx/attributes";
import { remapOp } from "../elementwise";
import type { Op } from "../op";

export const spacetodepth: Op = {
  plan(ctx) {
    const b = intAttribute(ctx.node, "blocksize", 0);
    return remapOp(ctx, [], (dims) => {
      const [N, C, H, W] = dims as [number, number, number, number];
      if (dims.length !== 4 || b < 1 || H % b !== 0 || W % b !== 0) throw new RangeError(`SpaceToDepth blocksize ${b} does not fit dims [${dims}]`);
      // Output channel (i * b + j) * C + c reads channel c at row offset i, column offset j of each block.
      return {
        dims: [N, C * b * b, H / b, W / b],
        offsets: [
          Int32Array.from({ length: N }, (_, n) => n * C * H * W),
          Int32Array.from({ length: C * b * b }, (_, k) => {
            const [block, c] = [Math.floor(k / C), k % C];
            return c * H * W + Math.floor(block / b) * W + (block % b);
          }),
          Int32Array.from({ length: H / b }, (_, y) => y * b * W),
          Int32Array.from({ length: W / b }, (_, x) => x * b),
        ],
      };
    });
  },
};
