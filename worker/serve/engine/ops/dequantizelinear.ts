// DequantizeLinear of constant weights: kept as integer levels plus scales (per tensor, per axis or blocked), so the
// consuming MatMul/Gemm/Conv packs them for an integer kernel; float values are produced only if something needs them.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { scaleIndexer } from "../linear";
import type { Op } from "../op";
import { floatData, Uncovered, type Constant, type QuantizedForm } from "../values";

export const dequantizelinear: Op = {
  plan(ctx) {
    const x = ctx.constant(0);
    const scale = ctx.constant(1);
    const zp = ctx.has(2) ? ctx.constant(2) : undefined;
    if (!x || !scale || (ctx.has(2) && !zp)) throw new Uncovered("only constant (weight) dequantization is covered");
    if (![DT.INT8, DT.UINT8, DT.INT4, DT.UINT4, DT.INT2, DT.UINT2].includes(x.dtype)) throw new Uncovered(`input type ${x.dtype}`);
    const form: QuantizedForm = {
      q: new Int8Array(0),
      bits: x.dtype === DT.INT4 || x.dtype === DT.UINT4 ? 4 : x.dtype === DT.INT2 || x.dtype === DT.UINT2 ? 2 : 8,
      scale: floatData(scale),
      axis: form_axis(intAttribute(ctx.node, "axis", 1), x.dims.length, scale),
      blockSize: intAttribute(ctx.node, "block_size", 0),
    };
    const values = x.data as Int8Array | Uint8Array;
    const zeros = zp ? (zp.data as Int8Array | Uint8Array) : null;
    const at = scaleIndexer(form, x.dims);
    const levels = new Int16Array(values.length);
    let fits = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]! - (zeros ? zeros[zeros.length === 1 ? 0 : at(i)]! : 0);
      levels[i] = v;
      if (v < -128 || v > 127) fits = false;
    }
    const dequantize = () => Float32Array.from(levels, (v, i) => v * form.scale[at(i)]!);
    if (!fits) return { kind: "constant", outputs: [{ dims: x.dims, dtype: DT.FLOAT, data: dequantize() }] };
    form.q = Int8Array.from(levels);
    const out: Constant = {
      dims: x.dims,
      dtype: DT.FLOAT,
      quant: form,
      get data() {
        return dequantize();
      },
    };
    return { kind: "constant", outputs: [out] };
  },
};

/** A scalar scale ignores `axis`; otherwise a negative axis counts from the end. */
function form_axis(axis: number, rank: number, scale: Constant): number {
  if (scale.data.length === 1) return -1;
  return axis < 0 ? axis + rank : axis;
}
