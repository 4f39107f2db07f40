// Where(cond, x, y) with numpy broadcasting over all three; folds when all are constant (keeping x's element type).
import { DT } from "../../../onnx/dtype";
import { elementsLike, elementsOf, numbersOf, whereKernel } from "../elementwise";
import type { Op } from "../op";
import { broadcastAll } from "../shape";
import { floatData, type Constant } from "../values";

export const where: Op = {
  plan(ctx) {
    const [c, x, y] = [0, 1, 2].map((i) => ctx.constant(i));
    if (c && x && y) {
      const dims = broadcastAll([c.dims, x.dims, y.dims]);
      const n = dims.reduce((p, d) => p * d, 1);
      // Both branches share x's type; y is read as x's kind of array (int64 stays bigint, anything else as numbers).
      const same = !x.quant && !y.quant && x.data.constructor === y.data.constructor;
      const out = same ? elementsLike(x, n) : new Float32Array(n);
      const xs = same ? elementsOf(x) : floatData(x);
      const ys = same ? elementsOf(y) : floatData(y);
      whereKernel(numbersOf(c), c.dims, xs, x.dims, ys, y.dims, out, dims);
      return { kind: "constant", outputs: [{ dims, dtype: same && !x.quant ? x.dtype : DT.FLOAT, data: out as Float32Array }] };
    }
    const [cond, a, b] = [ctx.input(0), ctx.input(1), ctx.input(2)];
    return {
      kind: "step",
      // Where(x >= t, 1, -1): a binarized activation (BNN exports), which a binary-weight layer runs on XNOR-popcount.
      mark: x && y && allSigns(x) && allSigns(y) ? { kind: "signs" } : undefined,
      run(run) {
        const [k, u, v] = [cond(run), a(run), b(run)];
        const dims = broadcastAll([k.dims, u.dims, v.dims]);
        const out = run.alloc(dims);
        whereKernel(run.view(k), k.dims, run.view(u), u.dims, run.view(v), v.dims, run.view(out), dims);
        return [out];
      },
    };
  },
};

function allSigns(c: Constant): boolean {
  const v = floatData(c);
  return v.length > 0 && v.every((e) => e === 1 || e === -1);
}
