// MatMul(X, W[K,N]) -> MatMulInteger(uint8 X, int8 W) with per-column weight scales.
import { makeNode } from "../../../onnx/builders";
import { tensorDims } from "../../../onnx/tensor";
import type { DynamicRewrite } from "./rewrite";
import { quantizeWeight, rescale, weightInitializers } from "./shared";

export const matmul: DynamicRewrite = {
  rewrite({ node, weight, label }, layout, data, ctx) {
    const dims = tensorDims(weight);
    if (!layout || dims.length !== 2) return "MatMul weight is not 2-D";
    const { q, report } = quantizeWeight(weight.name, label, "MatMul", data, dims, layout.outAxis, ctx.perTensor);
    const w = weightInitializers(ctx, weight.name, q.values, dims, q.scales, [dims[layout.outAxis]!]);
    const [xq, xs, xzp] = ctx.quantizedActivation(node.input[0]!);
    const acc = ctx.fresh(`${label}_int32`);
    return {
      nodes: [makeNode("MatMulInteger", [xq, w.q, xzp, w.zp], [acc], ctx.fresh(`${label}_integer`)), ...rescale(ctx, acc, xs, w.scale, node.output[0]!, label)],
      report,
    };
  },
};
