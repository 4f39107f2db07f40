// Gemm(A, B, C) with alpha=1, transA=0 -> MatMulInteger on B laid out [K,N] (transposed at quantization time
// when the table lays it out [N,K], transB=1), rescaled, then + C (beta=1).
import { makeNode } from "../../../onnx/builders";
import { floatAttribute, intAttribute } from "../../../onnx/attributes";
import { tensorDims } from "../../../onnx/tensor";
import type { DynamicRewrite } from "./rewrite";
import { quantizeWeight, rescale, weightInitializers } from "./shared";

export const gemm: DynamicRewrite = {
  check({ node, operator }, layout) {
    if (!layout) return "Gemm weight is not 2-D";
    if (intAttribute(node, "transA", 0) !== 0 || floatAttribute(node, "alpha", 1) !== 1) return "Gemm with transA or alpha != 1";
    const bias = operator.bias === null ? "" : (node.input[operator.bias] ?? "");
    if (bias && floatAttribute(node, "beta", 1) !== 1) return "Gemm with beta != 1";
    return null;
  },
  rewrite({ node, weight, label, operator }, layout, data, ctx) {
    const dims = tensorDims(weight);
    const bias = operator.bias === null ? "" : (node.input[operator.bias] ?? "");
    const [k, n] = [dims[layout.inAxis]!, dims[layout.outAxis]!];
    // Stored [K,N] as MatMul's weight is: a MatMul and a plain Gemm reading one weight share its int8 copy.
    const w = ctx.quantizedWeight(`${weight.name}\u0000${layout.outAxis === 0 ? "[N,K]->[K,N]" : "[K,N]"}`, () => {
      const values = data();
      let kn = values;
      if (layout.outAxis === 0) {
        kn = new Float32Array(k * n);
        for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) kn[c * n + r] = values[r * k + c]!;
      }
      const { q, report } = quantizeWeight(weight.name, label, "Gemm", kn, [k, n], 1, ctx.perTensor);
      return { ...weightInitializers(ctx, weight.name, q.values, [k, n], q.scales, [n]), report: { ...report, shape: dims, axis: layout.outAxis } };
    });
    const [xq, xs, xzp] = ctx.quantizedActivation(node.input[0]!);
    const acc = ctx.fresh(`${label}_int32`);
    const product = bias ? ctx.fresh(`${label}_product`) : node.output[0]!;
    const nodes = [makeNode("MatMulInteger", [xq, w.q, xzp, w.zp], [acc], ctx.fresh(`${label}_integer`)), ...rescale(ctx, acc, xs, w.scale, product, label)];
    if (bias) nodes.push(makeNode("Add", [product, bias], [node.output[0]!], ctx.fresh(`${label}_bias`)));
    return { nodes, report: w.first ? w.report : null };
  },
};
