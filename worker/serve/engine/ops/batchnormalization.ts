// BatchNormalization at inference. After a Conv/Gemm/MatMul it is folded into that op's weights and bias (see
// epilogue.ts); standing alone (DenseNet's norm before each convolution) it is a scale and shift per channel over
// axis 1 on the kernels (f32_rows_affine), with a Relu or Clip that alone reads it fused.
import { floatAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";

export const batchnormalization: Op = {
  plan(ctx) {
    if (ctx.node.output.filter((o) => o).length > 1) throw new Uncovered("training outputs are used");
    const params = [1, 2, 3, 4].map((i) => ctx.constant(i));
    if (params.some((p) => !p)) throw new Uncovered("scale, bias, mean and variance must be constants");
    const [scale, bias, mean, variance] = params.map((p) => floatData(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = floatAttribute(ctx.node, "epsilon", 1e-5);
    const s = scale.map((v, i) => v / Math.sqrt(variance[i]! + eps));
    const t = bias.map((v, i) => v - mean[i]! * s[i]!);
    const [sPtr, tPtr] = [ctx.kx.put(s), ctx.kx.put(t)];
    const x = ctx.input(0);
    const act = ctx.absorbActivation();
    return {
      kind: "step",
      outputs: [act.output],
      run(run) {
        const a = x(run);
        const [B, C] = a.dims as [number, number];
        if (a.dims.length < 2 || C !== s.length) throw new RangeError(`BatchNormalization has ${s.length} channels, input dims [${a.dims}]`);
        const inner = a.dims.slice(2).reduce((p, d) => p * d, 1);
        const y = run.alloc([...a.dims]);
        const plane = C * inner * 4;
        for (let b = 0; b < B; b++) run.kx.k.f32_rows_affine(C, inner, a.ptr + b * plane, sPtr, tPtr, act.lo, act.hi, y.ptr + b * plane);
        return [y];
      },
    };
  },
};
