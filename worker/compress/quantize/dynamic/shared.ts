// What the dynamic rewrites share: the weight initializers (int8 levels stored as uint8 around 128) and the int32 -> float rescale tail.
import type { NodeProto } from "onnx-buf";
import { makeNode } from "../../../onnx/builders";
import { DT } from "../../../onnx/dtype";
import { makeTensor } from "../../../onnx/tensor";
import type { TensorReport } from "../index";
import { quantizeWeightsPerChannel } from "../weights";
import type { DynamicContext } from "./rewrite";

/**
 * Symmetric int8 levels are stored as uint8 with zero point 128: the same products, but onnxruntime's x86 kernels
 * for uint8 x uint8 widen before multiplying, while uint8 x int8 on AVX2 without VNNI adds pairs of products in
 * saturating int16 (vpmaddubsw), which corrupts outputs whenever activations and weights are both large.
 */
const WEIGHT_ZERO_POINT = 128;

/** int8 weight `values` (already in the integer op's layout) with per-channel scales shaped `scaleDims`. */
export function weightInitializers(
  ctx: DynamicContext,
  weightName: string,
  values: Int8Array,
  dims: number[],
  scales: Float32Array,
  scaleDims: number[],
): { q: string; zp: string; scale: string } {
  const q = ctx.fresh(`${weightName}_quantized`);
  const zp = ctx.fresh(`${weightName}_zero_point`);
  const scale = ctx.fresh(`${weightName}_scale`);
  ctx.addInitializer(makeTensor(q, DT.UINT8, dims, Uint8Array.from(values, (v) => v + WEIGHT_ZERO_POINT)));
  ctx.addInitializer(makeTensor(zp, DT.UINT8, [], Uint8Array.of(WEIGHT_ZERO_POINT)));
  ctx.addInitializer(makeTensor(scale, DT.FLOAT, scaleDims, scales));
  return { q, zp, scale };
}

/** int32 accumulator -> float, times (activation scale x weight scale), into `output`. */
export function rescale(ctx: DynamicContext, acc: string, activationScale: string, weightScale: string, output: string, base: string): NodeProto[] {
  const asFloat = ctx.fresh(`${base}_int32_as_float`);
  const scale = ctx.fresh(`${base}_output_scale`);
  return [
    makeNode("Cast", [acc], [asFloat], ctx.fresh(`${base}_cast`), { to: DT.FLOAT }),
    makeNode("Mul", [activationScale, weightScale], [scale], ctx.fresh(`${base}_scale_product`)),
    makeNode("Mul", [asFloat, scale], [output], ctx.fresh(`${base}_rescale`)),
  ];
}

/**
 * Symmetric int8 quantization of `data`, per channel along `axis` (or one scale for the whole tensor, repeated per
 * channel so the graph keeps one form), and the report the variant record carries.
 */
export function quantizeWeight(name: string, node: string, op: string, data: Float32Array, dims: number[], axis: number, perTensor = false) {
  const q = perTensor ? perTensorAsChannels(data, dims, axis) : quantizeWeightsPerChannel(data, dims, axis, 8);
  const err = q.error;
  let scaleMin = Infinity;
  let scaleMax = 0;
  for (const s of q.scales) {
    scaleMin = Math.min(scaleMin, s);
    scaleMax = Math.max(scaleMax, s);
  }
  const report: TensorReport = {
    name,
    node,
    op,
    shape: dims,
    axis,
    bits: 8,
    scaleMin,
    scaleMax,
    maxAbsError: err.maxAbsError,
    sqnrDb: Number.isFinite(err.sqnrDb) ? err.sqnrDb : null,
  };
  return { q, report };
}

function perTensorAsChannels(data: Float32Array, dims: number[], axis: number) {
  const whole = quantizeWeightsPerChannel(data, [1, data.length], 0, 8);
  return { ...whole, scales: new Float32Array(dims[axis]!).fill(whole.scales[0]!) };
}
