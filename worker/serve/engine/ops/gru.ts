// GRU (gates z, r, h): X·W^T for all steps in one GEMM per direction, then per step h·R^T on the packed R and the
// gate math on the cell kernels (f32_gru_reset, f32_gru_cell), one call per batch row. linear_before_reset=1
// multiplies r into h·Rh^T + Rbh (one GEMM of all of R); 0 applies r to h first, so R is packed as its z/r rows and
// its h rows and the step runs (r ⊙ h)·Rh^T as a second GEMM.
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { gateRows, kernelsOf, project, readRecurrent, recur, stateOf } from "./recurrent";

export const gru: Op = {
  plan(ctx) {
    const rc = readRecurrent(ctx, 3, ["Sigmoid", "Tanh"], 2);
    const { H, dirs, clip } = rc;
    const beforeReset = intAttribute(ctx.node, "linear_before_reset", 0) === 1;
    const G = 3 * H;
    // Under linear_before_reset r multiplies Rbh, so Rb stays R's epilogue; otherwise it joins the projection's.
    const w = rc.reverse.map((_, d) => {
      const { w: wb, r: rb } = rc.bias[d]!;
      return gateRows(ctx.kx, rc.W, d, 0, G, beforeReset ? wb : wb.map((v, i) => v + rb[i]!));
    });
    const rAll = beforeReset ? rc.reverse.map((_, d) => gateRows(ctx.kx, rc.R, d, 0, G, rc.bias[d]!.r)) : [];
    const rZr = beforeReset ? [] : rc.reverse.map((_, d) => gateRows(ctx.kx, rc.R, d, 0, 2 * H, null));
    const rH = beforeReset ? [] : rc.reverse.map((_, d) => gateRows(ctx.kx, rc.R, d, 2 * H, H, null));
    ctx.noteKernel(kernelsOf([...w, ...rAll, ...rZr, ...rH]));
    const outputs = ctx.node.output.filter((o) => o);
    return {
      kind: "step",
      outputs,
      run(run) {
        const sq = project(run, rc, w);
        const { seq, batch, lens } = sq;
        const kx = run.kx;
        const y = rc.wanted[0] ? run.alloc([seq, dirs, batch, H]) : null;
        if (y) run.view(y).fill(0); // steps past a row's sequence length stay zero
        const h = stateOf(run, rc, 5, batch);
        const gw = beforeReset ? G : 2 * H; // width of the first GEMM's output rows
        const g = kx.alloc(batch * gw * 4);
        const rh = kx.alloc(batch * H * 4); // r ⊙ h, then (r ⊙ h)·Rh^T (linear_before_reset=0)
        const gh = kx.alloc(batch * H * 4);
        const z = beforeReset ? 0 : kx.alloc(batch * H * 4);
        const at = (s: number, b: number, d: number) => (rc.reverse[d] ? lens[b]! - 1 - s : s);
        for (let d = 0; d < dirs; d++) {
          const hd = h.ptr + d * batch * H * 4;
          const xwAt = (s: number, b: number) => sq.xw[d]! + (Math.max(0, at(s, b, d)) * batch + b) * G * 4;
          for (let s = 0; s < seq; s++) {
            recur(kx, beforeReset ? rAll[d]! : rZr[d]!, batch, hd, H, g);
            if (!beforeReset) {
              // z and r first, then r ⊙ h through Rh (every row: the GEMM takes them together).
              for (let b = 0; b < batch; b++) kx.k.f32_gru_reset(H, xwAt(s, b), g + b * gw * 4, clip, hd + b * H * 4, z + b * H * 4, rh + b * H * 4);
              recur(kx, rH[d]!, batch, rh, H, gh);
            }
            for (let b = 0; b < batch; b++) {
              if (s >= lens[b]!) continue;
              const yAt = y ? y.ptr + ((at(s, b, d) * dirs + d) * batch + b) * H * 4 : 0;
              kx.k.f32_gru_cell(H, xwAt(s, b), g + b * gw * 4, beforeReset ? 0 : z + b * H * 4, gh + b * H * 4, clip, hd + b * H * 4, yAt);
            }
          }
        }
        return [y, h].filter((_, i) => rc.wanted[i]).map((a) => a!);
      },
    };
  },
};
