// Conv(X, W[M,C/g,k...], B) -> ConvInteger(uint8 X, int8 W) with per-output-channel scales, rescaled, + B.
import { makeNode } from "../../../onnx/builders";
import { makeTensor, readFloat32, tensorDims } from "../../../onnx/tensor";
import { DT } from "../../../onnx/dtype";
import type { DynamicRewrite } from "./rewrite";
import { quantizeWeight, rescale, weightInitializers } from "./shared";

export const conv: DynamicRewrite = {
  check({ node, operator }, layout, ctx) {
    if (!layout) return "Conv weight has no spatial dims";
    const biasName = operator.bias === null ? "" : (node.input[operator.bias] ?? "");
    const bias = biasName ? ctx.initializer(biasName) : null;
    if (biasName && (!bias || bias.dataType !== DT.FLOAT)) return "Conv bias is not a float32 initializer";
    return null;
  },
  rewrite({ node, weight, label, operator }, layout, data, ctx) {
    const dims = tensorDims(weight);
    const biasName = operator.bias === null ? "" : (node.input[operator.bias] ?? "");
    const bias = biasName ? ctx.initializer(biasName)! : null;
    const m = dims[layout.outAxis]!;
    const spatialOnes = new Array<number>(dims.length - 2).fill(1);
    const w = ctx.quantizedWeight(`${weight.name}\u0000conv`, () => {
      const { q, report } = quantizeWeight(weight.name, label, "Conv", data(), dims, layout.outAxis, ctx.perTensor);
      return { ...weightInitializers(ctx, weight.name, q.values, dims, q.scales, [m, ...spatialOnes]), report };
    });
    const [xq, xs, xzp] = ctx.quantizedActivation(node.input[0]!);
    const acc = ctx.fresh(`${label}_int32`);
    // ConvInteger takes Conv's attributes (kernel_shape, pads, strides, dilations, group, auto_pad) as they are.
    const integer = { ...makeNode("ConvInteger", [xq, w.q, xzp, w.zp], [acc], ctx.fresh(`${label}_integer`)), attribute: node.attribute };
    const product = bias ? ctx.fresh(`${label}_product`) : node.output[0]!;
    const nodes = [integer, ...rescale(ctx, acc, xs, w.scale, product, label)];
    if (bias) {
      const b = ctx.fresh(`${bias.name}_per_channel`);
      ctx.addInitializer(makeTensor(b, DT.FLOAT, [m, ...spatialOnes], readFloat32(bias)));
      nodes.push(makeNode("Add", [product, b], [node.output[0]!], ctx.fresh(`${label}_bias`)));
    }
    return { nodes, report: w.first ? w.report : null };
  },
};
