// TopK: the K largest (or smallest) values along `axis` and their int64 indices, sorted (ties to the lower index, as
// onnxruntime orders them). K from its int64 input. Folds on a constant input; at run time a JavaScript pass per row.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { aroundAxis, intInput, normalizeAxis } from "../shape";

function topK(src: ArrayLike<number>, dims: readonly number[], axis: number, k: number, largest: boolean, values: Float32Array | Float64Array, indices: Float32Array | Float64Array): void {
  const { outer, len, inner } = aroundAxis(dims, axis);
  if (k < 0 || k > len) throw new RangeError(`TopK k=${k} for an axis of ${len}`);
  const order = new Array<number>(len);
  const row = new Float64Array(len);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let t = 0; t < len; t++) {
        row[t] = src[(o * len + t) * inner + i]!;
        order[t] = t;
      }
      order.sort((p, q) => (row[p] === row[q] ? p - q : largest ? row[q]! - row[p]! : row[p]! - row[q]!));
      for (let t = 0; t < k; t++) {
        const at = (o * k + t) * inner + i;
        values[at] = row[order[t]!]!;
        indices[at] = order[t]!;
      }
    }
  }
}

export const topk: Op = {
  plan(ctx) {
    const axisAttr = intAttribute(ctx.node, "axis", -1);
    const largest = intAttribute(ctx.node, "largest", 1) !== 0;
    const kIn = intInput(ctx, 1);
    const outDims = (dims: readonly number[], axis: number, k: number) => dims.map((d, i) => (i === axis ? k : d));
    const c = ctx.constant(0);
    if (c && kIn.known) {
      const axis = normalizeAxis(axisAttr, c.dims.length);
      const k = kIn.known[0]!;
      const dims = outDims(c.dims, axis, k);
      const n = dims.reduce((p, d) => p * d, 1);
      const [values, indices] = [new Float64Array(n), new Float64Array(n)];
      topK(numbersOf(c), c.dims, axis, k, largest, values, indices);
      const v = c.dtype === DT.FLOAT || c.quant ? { dims, dtype: DT.FLOAT, data: Float32Array.from(values) } : constantOf(c.dtype, dims, values);
      return { kind: "constant", outputs: [v, constantOf(DT.INT64, dims, indices)] };
    }
    const x = ctx.input(0);
    return {
      kind: "step",
      outputs: [...ctx.node.output],
      run(run) {
        const a = x(run);
        const axis = normalizeAxis(axisAttr, a.dims.length);
        const dims = outDims(a.dims, axis, kIn.read(run)[0]!);
        const [values, indices] = [run.alloc(dims), run.alloc(dims)];
        topK(run.view(a), a.dims, axis, dims[axis]!, largest, run.view(values), run.view(indices));
        return [values, indices];
      },
    };
  },
};
