// CumSum along `axis` (an int input), exclusive and reverse as attributes: RoBERTa-style position ids from the
// attention mask (cumsum of mask) go through it. Sums in float64; folds on constants keeping the element type.
import { intAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, mapStep, numbersOf } from "../elementwise";
import { sizeOf } from "../values";
import type { Op } from "../op";
import { aroundAxis, intInput, normalizeAxis } from "../shape";

/** dst = the running sums of src along `axis` of dims (exclusive: each excluding its own element; reverse: from the end). */
function cumulative(src: ArrayLike<number>, dst: Float32Array | Float64Array, dims: readonly number[], axis: number, exclusive: boolean, reverse: boolean): void {
  const { outer, len, inner } = aroundAxis(dims, axis);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let sum = 0;
      for (let t = 0; t < len; t++) {
        const at = (o * len + (reverse ? len - 1 - t : t)) * inner + i;
        const v = src[at]!;
        if (!exclusive) sum += v;
        dst[at] = sum;
        if (exclusive) sum += v;
      }
    }
  }
}

export const cumsum: Op = {
  plan(ctx) {
    const exclusive = intAttribute(ctx.node, "exclusive", 0) !== 0;
    const reverse = intAttribute(ctx.node, "reverse", 0) !== 0;
    const axisIn = intInput(ctx, 1);
    const c = ctx.constant(0);
    if (c && axisIn.known) {
      const out = new Float64Array(c.data.length);
      cumulative(numbersOf(c), out, c.dims, normalizeAxis(axisIn.known[0]!, c.dims.length), exclusive, reverse);
      const dtype = c.quant ? DT.FLOAT : c.dtype;
      return { kind: "constant", outputs: [dtype === DT.FLOAT ? { dims: [...c.dims], dtype, data: Float32Array.from(out) } : constantOf(dtype, [...c.dims], out)] };
    }
    // The sums go to a float64 buffer first, so the output may be the input's memory.
    return mapStep(ctx, (run, a, y) => {
      const sums = new Float64Array(sizeOf(a.dims));
      cumulative(run.view(a), sums, a.dims, normalizeAxis(axisIn.read(run)[0]!, a.dims.length), exclusive, reverse);
      run.view(y).set(sums);
    });
  },
};
