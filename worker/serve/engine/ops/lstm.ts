// LSTM (gates i, o, f, c): X·W^T for all steps in one GEMM per direction, then per step h·R^T on the packed R and
// the gate math; peepholes, clip and input_forget in that loop. Y and Y_c/Y_h in ONNX's layout 0.
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { gateRows, heapOf, kernelsOf, project, readRecurrent, recur, sigmoid, stateOf, tanh } from "./recurrent";

export const lstm: Op = {
  plan(ctx) {
    const rc = readRecurrent(ctx, 4, ["Sigmoid", "Tanh", "Tanh"], 3);
    const { H, dirs, clip } = rc;
    const inputForget = intAttribute(ctx.node, "input_forget", 0) === 1;
    let peep: Float32Array | null = null;
    if (ctx.has(7)) {
      const p = ctx.constant(7);
      if (!p) throw new Uncovered("P (peepholes) is computed at run time");
      if (p.dims.join() !== [dirs, 3 * H].join()) throw new Uncovered(`P of dims [${p.dims}]`);
      peep = floatData(p);
    }
    // Both biases join the input projection's epilogue: every gate adds them once.
    const w = rc.reverse.map((_, d) => gateRows(ctx.kx, rc.W, d, 0, 4 * H, rc.bias[d]!.w.map((v, i) => v + rc.bias[d]!.r[i]!)));
    const r = rc.reverse.map((_, d) => gateRows(ctx.kx, rc.R, d, 0, 4 * H, null));
    ctx.noteKernel(kernelsOf([...w, ...r]));
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
        const c = stateOf(run, rc, 6, batch);
        const g = kx.alloc(batch * 4 * H * 4);
        const heap = heapOf(kx);
        const G = 4 * H;
        for (let d = 0; d < dirs; d++) {
          const hd = h.ptr + d * batch * H * 4;
          const xw = sq.xw[d]! >> 2;
          const p = peep ? peep.subarray(d * 3 * H, (d + 1) * 3 * H) : null;
          for (let s = 0; s < seq; s++) {
            recur(kx, r[d]!, batch, hd, H, g);
            const f = heap();
            for (let b = 0; b < batch; b++) {
              const len = lens[b]!;
              if (s >= len) continue;
              const t = rc.reverse[d] ? len - 1 - s : s;
              const xo = xw + (t * batch + b) * G;
              const go = (g >> 2) + b * G;
              const ho = (hd >> 2) + b * H;
              const co = (c.ptr >> 2) + (d * batch + b) * H;
              const yo = y ? (y.ptr >> 2) + ((t * dirs + d) * batch + b) * H : -1;
              for (let j = 0; j < H; j++) {
                const cPrev = f[co + j]!;
                let vi = f[xo + j]! + f[go + j]!;
                let vo = f[xo + H + j]! + f[go + H + j]!;
                let vf = f[xo + 2 * H + j]! + f[go + 2 * H + j]!;
                let vc = f[xo + 3 * H + j]! + f[go + 3 * H + j]!;
                if (p) {
                  vi += p[j]! * cPrev;
                  vf += p[2 * H + j]! * cPrev;
                }
                const ig = sigmoid(Math.min(clip, Math.max(-clip, vi)));
                const fg = inputForget ? 1 - ig : sigmoid(Math.min(clip, Math.max(-clip, vf)));
                const cg = tanh(Math.min(clip, Math.max(-clip, vc)));
                const cNew = Math.fround(fg * cPrev + ig * cg);
                if (p) vo += p[H + j]! * cNew;
                const og = sigmoid(Math.min(clip, Math.max(-clip, vo)));
                const hNew = og * tanh(cNew);
                f[co + j] = cNew;
                f[ho + j] = hNew;
                if (yo >= 0) f[yo + j] = hNew;
              }
            }
          }
        }
        return [y, h, c].filter((_, i) => rc.wanted[i]).map((a) => a!);
      },
    };
  },
};
