// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) values. Folds on constants (int64 stays int64).
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";

/** max(ceil((limit - start) / delta), 0); 0 for a zero delta (invalid in ONNX, but what a trace on zero inputs reads). */
function countOf(start: number, limit: number, delta: number): number {
  const n = Math.ceil((limit - start) / delta);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export const range: Op = {
  plan(ctx) {
    const cs = [0, 1, 2].map((i) => ctx.constant(i));
    if (cs.every((c) => c)) {
      const [start, limit, delta] = cs.map((c) => numbersOf(c!)[0]!) as [number, number, number];
      const n = countOf(start, limit, delta);
      const values = Float64Array.from({ length: n }, (_, i) => start + i * delta);
      const dtype = cs[0]!.dtype;
      return { kind: "constant", outputs: [constantOf(dtype === DT.DOUBLE ? DT.DOUBLE : dtype, [n], values)] };
    }
    const xs = [0, 1, 2].map((i) => ctx.input(i));
    return {
      kind: "step",
      run(run) {
        const [start, limit, delta] = xs.map((x) => run.view(x(run))[0]!) as [number, number, number];
        const n = countOf(start, limit, delta);
        const y = run.alloc([n]);
        const out = run.view(y);
        for (let i = 0; i < n; i++) out[i] = start + i * delta;
        return [y];
      },
    };
  },
};
