// Gemm(A, B, C) = alpha * A' B' + beta * C with a constant B: a packed linear layer; alpha and beta * C (one value
// per output column, or a scalar) join the fused epilogue.
import { floatAttribute, intAttribute } from "../../../onnx/attributes";
import { OPERATORS } from "../../../onnx/operators";
import { planLinear } from "../linear";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";

export const gemm: Op = {
  plan(ctx) {
    const a = ctx.input(0);
    const w = ctx.constant(OPERATORS.Gemm.weight);
    if (!w) throw new Uncovered("B is computed at run time");
    const layout = OPERATORS.Gemm.gemm(ctx.node, w.dims);
    if (!layout) throw new Uncovered(`B has rank ${w.dims.length}`);
    const transA = intAttribute(ctx.node, "transA", 0) === 1;
    const alpha = floatAttribute(ctx.node, "alpha", 1);
    const beta = floatAttribute(ctx.node, "beta", 1);
    const { K, N } = layout;
    let bias: Float32Array | null = null;
    if (ctx.has(2)) {
      const c = ctx.constant(2);
      if (!c) throw new Uncovered("C is computed at run time");
      const data = floatData(c);
      const lead = c.dims.slice(0, -1).every((d) => d === 1);
      if (!(data.length === 1 || (data.length === N && lead && c.dims.length <= 2))) throw new Uncovered(`C of dims [${c.dims}] is not a per-column bias`);
      bias = Float32Array.from({ length: N }, (_, i) => beta * data[data.length === 1 ? 0 : i]!);
    }
    const start = { scale: alpha !== 1 ? new Float32Array(N).fill(alpha) : null, bias, lo: -Infinity, hi: Infinity };
    const { linear, output } = planLinear(ctx, w, layout, start);
    return {
      kind: "step",
      outputs: [output],
      run(run) {
        let x = a(run);
        if (x.dims.length !== 2) throw new RangeError(`Gemm needs a rank-2 A, got [${x.dims}]`);
        if (transA) {
          const t = run.alloc([x.dims[1]!, x.dims[0]!]);
          run.kx.k.f32_transpose(x.dims[0]!, x.dims[1]!, x.ptr, t.ptr, x.dims[0]!);
          x = t;
        }
        if (x.dims[1] !== K) throw new RangeError(`Gemm input dims [${x.dims}] do not match K=${K}`);
        const M = x.dims[0]!;
        const y = run.alloc([M, N]);
        linear.run(run.kx, M, x.ptr, K, y.ptr, N);
        return [y];
      },
    };
  },
};
