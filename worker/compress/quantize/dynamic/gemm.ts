// Gemm(A, B, C) with alpha=1, transA=0 -> MatMulInteger on B laid out [K,N] (transposed at quantization time
// when transB=1), rescaled, then + C (beta=1).
import { makeNode } from "../../../onnx/builders";
import { floatAttribute, intAttribute } from "../../../onnx/attributes";
import { tensorDims } from "../../../onnx/tensor";
import type { DynamicRewrite } from "./rewrite";
import { quantizeWeight, rescale, weightInitializers } from "./shared";

export const gemm: DynamicRewrite = {
  rewrite(node, weight, data, ctx) {
    const dims = tensorDims(weight);
    if (dims.length !== 2) return "Gemm weight is not 2-D";
    if (intAttribute(node, "transA", 0) !== 0 || floatAttribute(node, "alpha", 1) !== 1) return "Gemm with transA or alpha != 1";
    const hasC = node.input.length > 2 && node.input[2] !== "";
    if (hasC && floatAttribute(node, "beta", 1) !== 1) return "Gemm with beta != 1";
    const transB = intAttribute(node, "transB", 0) === 1;
    const [k, n] = transB ? [dims[1]!, dims[0]!] : [dims[0]!, dims[1]!];
    let kn = data;
    if (transB) {
      kn = new Float32Array(k * n);
      for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) kn[c * n + r] = data[r * k + c]!;
    }
    const label = node.name || node.output[0]!;
    const { q, report } = quantizeWeight(weight.name, label, "Gemm", kn, [k, n], 1, ctx.perTensor);
    const w = weightInitializers(ctx, weight.name, q.values, [k, n], q.scales, [n]);
    const [xq, xs, xzp] = ctx.quantizedActivation(node.input[0]!);
    const acc = ctx.fresh(`${label}_int32`);
    const product = hasC ? ctx.fresh(`${label}_product`) : node.output[0]!;
    const nodes = [makeNode("MatMulInteger", [xq, w.q, xzp, w.zp], [acc], ctx.fresh(`${label}_integer`)), ...rescale(ctx, acc, xs, w.scale, product, label)];
    if (hasC) nodes.push(makeNode("Add", [product, node.input[2]!], [node.output[0]!], ctx.fresh(`${label}_bias`)));
    return { nodes, report: { ...report, shape: dims, axis: transB ? 0 : 1 } };
  },
};
