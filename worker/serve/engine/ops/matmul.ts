// MatMul(A, B): a constant B [K, N] becomes a packed linear layer (with the following bias/BN/activation fused);
// two run-time operands of rank 2 go through the fp32 GEMM with B packed per run.
import { packF32Panels, weightMatrix } from "../../wasm/packing";
import { OPERATORS } from "../../../onnx/operators";
import { planLinear } from "../linear";
import type { Op } from "../op";
import { Uncovered } from "../values";

export const matmul: Op = {
  plan(ctx) {
    const a = ctx.input(0);
    const w = ctx.constant(OPERATORS.MatMul.weight);
    if (!w) return runtimeMatmul(ctx);
    const layout = w.dims.length === 2 ? OPERATORS.MatMul.gemm(ctx.node, w.dims) : null;
    if (!layout) throw new Uncovered(`weight of rank ${w.dims.length} (only [K, N] is packed)`);
    const { K, N } = layout;
    const { linear, output } = planLinear(ctx, w, layout);
    return {
      kind: "step",
      outputs: [output],
      run(run) {
        const x = a(run);
        if (x.dims.length < 2 || x.dims[x.dims.length - 1] !== K) throw new RangeError(`MatMul input dims [${x.dims}] do not end in K=${K}`);
        const rows = x.dims.slice(0, -1).reduce((p, d) => p * d, 1);
        const y = run.alloc([...x.dims.slice(0, -1), N]);
        linear.run(run.kx, rows, x.ptr, K, y.ptr, N);
        return [y];
      },
    };
  },
};

function runtimeMatmul(ctx: Parameters<Op["plan"]>[0]): ReturnType<Op["plan"]> {
  const a = ctx.input(0);
  const b = ctx.input(1);
  ctx.noteKernel("f32");
  return {
    kind: "step",
    run(run) {
      const x = a(run);
      const w = b(run);
      if (x.dims.length !== 2 || w.dims.length !== 2 || x.dims[1] !== w.dims[0]) {
        throw new RangeError(`MatMul of run-time operands needs [M, K] x [K, N], got [${x.dims}] x [${w.dims}]`);
      }
      const [M, K] = x.dims as [number, number];
      const N = w.dims[1]!;
      const packed = packF32Panels(weightMatrix(run.view(w), K, N, "kn"));
      const bp = run.kx.put(packed);
      const y = run.alloc([M, N]);
      run.kx.k.f32_gemm_wasmsimd_4x8(M, K, N, x.ptr, K, bp, 0, y.ptr, N, -Infinity, Infinity);
      return [y];
    },
  };
}
