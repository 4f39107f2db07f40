// BatchNormalization at inference. After a Conv/Gemm/MatMul it is folded into that op's weights and bias (see
// epilogue.ts); standing alone it is a per-channel affine map over axis 1.
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
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const [B, C] = a.dims as [number, number];
        if (C !== s.length) throw new RangeError(`BatchNormalization has ${s.length} channels, input dims [${a.dims}]`);
        const inner = a.dims.slice(2).reduce((p, d) => p * d, 1);
        const y = run.alloc([...a.dims]);
        const src = run.view(a);
        const dst = run.view(y);
        for (let b = 0; b < B; b++)
          for (let c = 0; c < C; c++) {
            const base = (b * C + c) * inner;
            for (let i = 0; i < inner; i++) dst[base + i] = src[base + i]! * s[c]! + t[c]!;
          }
        return [y];
      },
    };
  },
};
