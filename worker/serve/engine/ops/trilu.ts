// Trilu (opset 14): the upper (default) or lower triangle of the last two axes, from diagonal k (optional int64
// input), the rest zero. Folds on constants, keeping the element type: torch writes causal attention masks this way
// (triu of a tensor filled from the sequence length), which then fold once per input shape.
import { DT } from "../../../onnx/dtype";
import { intAttribute } from "../../../onnx/attributes";
import { elementsLike, elementsOf, mapStep } from "../elementwise";
import type { Op } from "../op";
import { intInput, type Elements } from "../shape";

/** Copies src to dst (same length) keeping the triangle of each trailing [rows, cols] matrix, zeroing the rest. */
function triangle(src: Elements, dst: Elements, dims: readonly number[], upper: boolean, k: number): void {
  if (dims.length < 2) throw new RangeError(`Trilu needs rank 2 or more, got dims [${dims}]`);
  const rows = dims[dims.length - 2]!;
  const cols = dims[dims.length - 1]!;
  const zero = dst instanceof BigInt64Array ? 0n : 0;
  for (let base = 0; base < dst.length; base += rows * cols) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const at = base + i * cols + j;
        (dst as Float32Array)[at] = (upper ? j - i >= k : j - i <= k) ? (src as Float32Array)[at]! : (zero as number);
      }
    }
  }
}

export const trilu: Op = {
  plan(ctx) {
    const upper = intAttribute(ctx.node, "upper", 1) !== 0;
    const kIn = ctx.has(1) ? intInput(ctx, 1) : { known: [0], read: () => [0] };
    const c = ctx.constant(0);
    if (c && kIn.known) {
      const out = elementsLike(c, c.data.length);
      triangle(elementsOf(c), out, c.dims, upper, kIn.known[0] ?? 0);
      return { kind: "constant", outputs: [{ dims: [...c.dims], dtype: c.quant ? DT.FLOAT : c.dtype, data: out as Float32Array }] };
    }
    return mapStep(ctx, (run, a, y) => triangle(run.view(a), run.view(y), a.dims, upper, kIn.read(run)[0] ?? 0));
  },
};
