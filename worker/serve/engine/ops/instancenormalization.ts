// InstanceNormalization (what torch writes for InstanceNorm and, between two Reshapes, for GroupNorm): each (image,
// channel) plane brought to zero mean and unit variance over its spatial dims, then y = n * scale[c] + B[c]. The
// planes normalize in the layer-norm kernel (rows of the plane's length, no affine), then take their channel's scale
// and shift in the per-plane affine kernel, one call per image.
import { floatAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";

export const instancenormalization: Op = {
  plan(ctx) {
    const eps = floatAttribute(ctx.node, "epsilon", 1e-5);
    const x = ctx.input(0);
    const [scale, bias] = [ctx.constant(1), ctx.constant(2)];
    if (!scale || !bias) throw new Uncovered("scale or B is computed at run time");
    const [s, b] = [floatData(scale), floatData(bias)];
    const C = s.length;
    if (b.length !== C) throw new Uncovered(`scale has ${C} values and B ${b.length}`);
    const [S, T] = [ctx.kx.put(s), ctx.kx.put(b)];
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        if (a.dims.length < 3 || a.dims[1] !== C) throw new RangeError(`InstanceNormalization of [${a.dims}] with ${C} channels`);
        const [N, , ...spatial] = a.dims as number[];
        const D = spatial.reduce((p, d) => p * d, 1);
        const y = run.alloc([...a.dims]);
        run.kx.k.f32_layernorm_rows(N! * C, D, a.ptr, 0, 0, eps, y.ptr);
        for (let n = 0; n < N!; n++) {
          const plane = y.ptr + n * C * D * 4;
          run.kx.k.f32_rows_affine(C, D, plane, S, T, -Infinity, Infinity, plane);
        }
        return [y];
      },
    };
  },
};
