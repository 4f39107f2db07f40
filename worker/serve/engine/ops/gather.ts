// Gather along `axis`: data constant (a table, a shape) or computed, indices constant or computed (run-time indices
// arrive as float32 values and are rounded); negative indices count from the end. Folds when both are constant. A
// quantized table (an embedding's DequantizeLinear) stays as its integer levels in kernel memory, and only the rows
// gathered are dequantized.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { elementsLike, elementsOf } from "../elementwise";
import { scaleIndexer } from "../linear";
import type { Op, OpPlan, PlanContext } from "../op";
import { normalizeAxis, offsetsOf, remap, spanOf, type Elements } from "../shape";
import { floatData, intData, type Constant } from "../values";

/** Output dims and remap offsets of data[..., indices, ...] viewed as [outer, count, inner]. */
function gatherLayout(dims: readonly number[], axisAttr: number, indices: readonly number[], indexDims: readonly number[]) {
  const axis = normalizeAxis(axisAttr, dims.length);
  const size = dims[axis]!;
  const inner = spanOf(dims, axis + 1);
  const rows = offsetsOf(indices.length, inner, (i) => {
    const v = indices[i]! < 0 ? indices[i]! + size : indices[i]!;
    if (v < 0 || v >= size) throw new RangeError(`Gather index ${indices[i]} is out of range for dim ${size}`);
    return v;
  });
  const flat = [spanOf(dims, 0, axis), indices.length, inner];
  const offsets = [offsetsOf(flat[0]!, size * inner, (i) => i), rows, offsetsOf(inner, 1, (i) => i)];
  return { dims: [...dims.slice(0, axis), ...indexDims, ...dims.slice(axis + 1)], flat, offsets };
}

/** Tables this small are codebooks the engine keeps as indices (lut4 kernel); larger ones fold to floats. */
const LUT_ENTRIES = 16;

/**
 * A 1-D float table of at most 16 entries gathered by constant indices (a codebook weight, compress/quantize/codebook.ts):
 * the indices and table as a SharedForm, with the float values made only if something reads them.
 */
function sharedValues(data: Constant, idx: Constant, axis: number): Constant | null {
  if (data.dims.length !== 1 || axis !== 0 || data.dtype !== DT.FLOAT || data.quant || data.dims[0]! > LUT_ENTRIES) return null;
  const table = floatData(data);
  const values = idx.data;
  const index = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let v = Number(values[i]!);
    if (v < 0) v += table.length;
    if (!(v >= 0 && v < table.length)) return null; // out of range: the general path names the index
    index[i] = v;
  }
  let floats: Float32Array | null = null;
  return {
    dims: [...idx.dims],
    dtype: DT.FLOAT,
    shared: { index, table },
    get data() {
      return (floats ??= Float32Array.from(index, (j) => table[j]!));
    },
  };
}

export const gather: Op = {
  plan(ctx) {
    const axis = intAttribute(ctx.node, "axis", 0);
    const data = ctx.constant(0);
    const idx = ctx.constant(1);
    if (data && idx) {
      const codebook = sharedValues(data, idx, axis);
      if (codebook) return { kind: "constant", outputs: [codebook] };
      const g = gatherLayout(data.dims, axis, intData(idx), idx.dims);
      const out = elementsLike(data, spanOf(g.dims));
      remap(elementsOf(data), out, g.flat, g.offsets, out instanceof BigInt64Array ? 0n : 0);
      return { kind: "constant", outputs: [{ dims: g.dims, dtype: data.quant ? DT.FLOAT : data.dtype, data: out }] };
    }
    if (data?.quant && !idx && normalizeAxis(axis, data.dims.length) === 0) return quantizedRows(ctx, data);
    const x = ctx.input(0);
    const ix = idx ? undefined : ctx.input(1);
    const fixed = idx ? { values: intData(idx), dims: idx.dims } : undefined;
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        let indices = fixed;
        if (!indices) {
          const i = ix!(run);
          indices = { values: Array.from(run.view(i), Math.round), dims: i.dims };
        }
        const g = gatherLayout(a.dims, axis, indices.values, indices.dims);
        const y = run.alloc(g.dims);
        remap(run.view(a) as Elements, run.view(y), g.flat, g.offsets);
        return [y];
      },
    };
  },
};

/**
 * Rows of a quantized table gathered by run-time indices: the levels are placed in kernel memory once (a byte each,
 * not the four of a float copy) and each gathered row is dequantized as DequantizeLinear does, levels times scales.
 */
function quantizedRows(ctx: PlanContext, table: Constant): OpPlan {
  const form = table.quant!;
  const dims = [...table.dims];
  const rows = dims[0]!;
  const inner = spanOf(dims, 1);
  const levels = ctx.kx.put(form.q);
  const scale = form.scale;
  const at = scaleIndexer(form, dims);
  const ix = ctx.input(1);
  return {
    kind: "step",
    run(run) {
      const i = ix(run);
      const y = run.alloc([...i.dims, ...dims.slice(1)]); // may grow memory: views are taken after it
      const picked = run.view(i);
      const out = run.view(y);
      const q = run.kx.i8(levels, rows * inner);
      for (let t = 0; t < picked.length; t++) {
        let r = Math.round(picked[t]!);
        if (r < 0) r += rows;
        if (!(r >= 0 && r < rows)) throw new RangeError(`Gather index ${picked[t]} is out of range for dim ${rows}`);
        const from = r * inner;
        const to = t * inner;
        for (let j = 0; j < inner; j++) out[to + j] = q[from + j]! * scale[at(from + j)]!;
      }
      return [y];
    },
  };
}
