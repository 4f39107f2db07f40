// DequantizeLinear of constant weights: kept as integer levels plus scales (per tensor, per axis or blocked), so the
// consuming MatMul/Gemm/Conv packs them for an integer kernel; float values are produced only if something needs them.
// Of a run-time activation on a static grid (one scale and zero point): its values, marked as on that grid when they
// are a QuantizeLinear's levels on the same grid, so the consuming layer can requantize them exactly.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { scaleIndexer } from "../linear";
import { gridOf, sameGrid } from "../activation-grid";
import { mapStep } from "../elementwise";
import type { Op, PlanContext, OpPlan } from "../op";
import { floatData, Uncovered, type Constant, type QuantizedForm } from "../values";

export const dequantizelinear: Op = {
  plan(ctx) {
    const x = ctx.constant(0);
    const scale = ctx.constant(1);
    const zp = ctx.has(2) ? ctx.constant(2) : undefined;
    if (!x) return runtimeDequantize(ctx);
    if (!scale || (ctx.has(2) && !zp)) throw new Uncovered("only constant scales and zero points are covered");
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
    const levels = levelsOf(values, zeros, form, x.dims);
    let fits = true;
    for (let i = 0; i < levels.length; i++) if (levels[i]! < -128 || levels[i]! > 127) fits = false;
    if (!fits) return { kind: "constant", outputs: [{ dims: x.dims, dtype: DT.FLOAT, data: dequantizeLevels(levels, form, x.dims) }] };
    form.q = levels instanceof Int8Array ? levels : new Int8Array(levels);
    const out = quantizedConstant(x.dims, form);
    return { kind: "constant", outputs: [out] };
  },
};

/** A quantized float constant: `form`'s levels times its scales, computed only if something reads the values. */
export function quantizedConstant(dims: number[], form: QuantizedForm): Constant {
  let dequantized: Float32Array | null = null;
  return {
    dims,
    dtype: DT.FLOAT,
    quant: form,
    get data() {
      return (dequantized ??= dequantizeLevels(form.q, form, dims));
    },
  };
}

/** int8 values as float: levels with one unit scale. */
export const integerLevels = (dims: number[], q: Int8Array): Constant => quantizedConstant(dims, { q, bits: 8, scale: new Float32Array([1]), axis: -1, blockSize: 0 });

/**
 * The flat layout of a per-axis or blocked scale: element ((o * size) + a) * inner + i of the tensor uses scale
 * (o * blocks + floor(a / block)) * inner + i when blocked, else scale a (what scaleIndexer computes per element).
 * Null for a scalar scale, or when the dims do not tile `length` elements.
 */
function scaleLayout(form: QuantizedForm, dims: readonly number[], length: number) {
  if (form.scale.length === 1) return null;
  const axis = form.axis < 0 ? form.axis + dims.length : form.axis;
  const size = dims[axis] ?? 0;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = size * inner > 0 ? length / (size * inner) : 0;
  if (!Number.isInteger(outer) || outer * size * inner !== length || length === 0) return null;
  const block = form.blockSize > 0 ? form.blockSize : 0;
  return { outer, size, inner, block, blocks: block ? Math.ceil(size / block) : 0 };
}

/**
 * Fills out[f] with table[group of element f]: the zero point or scale each element uses. Nested loops over the scale's
 * layout; one scaleIndexer call per element where the dims are unusual.
 */
function perElement<T extends Int16Array | Float32Array>(table: ArrayLike<number>, form: QuantizedForm, dims: readonly number[], out: T): T {
  const n = out.length;
  if (table.length === 1) return out.fill(table[0]!) as T;
  const layout = scaleLayout(form, dims, n);
  if (layout) {
    const { outer, size, inner, block, blocks } = layout;
    for (let o = 0, f = 0; o < outer; o++)
      for (let a = 0; a < size; a++) {
        const base = block ? (o * blocks + Math.floor(a / block)) * inner : a;
        const step = block ? 1 : 0;
        for (let i = 0; i < inner; i++, f++) out[f] = table[base + i * step]!;
      }
  } else {
    const at = scaleIndexer(form, dims);
    for (let f = 0; f < n; f++) out[f] = table[at(f)]!;
  }
  return out;
}

/** Levels q - zero_point. Signed values without zero points are the levels already (copied). */
function levelsOf(values: Int8Array | Uint8Array, zeros: Int8Array | Uint8Array | null, form: QuantizedForm, dims: readonly number[]): Int8Array | Int16Array {
  if (!zeros && values instanceof Int8Array) return values; // read only: shared with the initializer's constant
  if (!zeros) return new Int16Array(values);
  const levels = perElement(zeros, form, dims, new Int16Array(values.length));
  for (let f = 0; f < levels.length; f++) levels[f] = values[f]! - levels[f]!;
  return levels;
}

/** Levels times their scales, as float32. */
function dequantizeLevels(levels: Int8Array | Int16Array, form: QuantizedForm, dims: readonly number[]): Float32Array {
  const out = perElement(form.scale, form, dims, new Float32Array(levels.length));
  for (let f = 0; f < out.length; f++) out[f] = levels[f]! * out[f]!;
  return out;
}

/** A scalar scale ignores `axis`; otherwise a negative axis counts from the end. */
function form_axis(axis: number, rank: number, scale: Constant): number {
  if (scale.data.length === 1) return -1;
  return axis < 0 ? axis + rank : axis;
}

function runtimeDequantize(ctx: PlanContext): OpPlan {
  const grid = gridOf(ctx.node, ctx.constant(1), ctx.constant(2), ctx.has(2));
  if (!grid) throw new Uncovered("of a run-time value, only a per-tensor scale and uint8/int8 zero point are covered");
  const mark = ctx.mark(0);
  const { scale, zeroPoint } = grid;
  // A map: written over the levels where nothing reads them after (a QuantizeLinear then DequantizeLinear pair holds
  // one activation's room, not three).
  return {
    ...mapStep(ctx, (run, a, y) => run.kx.k.f32_dequantize_linear(run.view(a).length, a.ptr, scale, zeroPoint, y.ptr)),
    mark: mark?.kind === "levels" && sameGrid(mark.grid, grid) ? { kind: "grid", grid } : undefined,
  };
}
