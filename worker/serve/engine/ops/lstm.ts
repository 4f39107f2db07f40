// LSTM (gates i, o, f, c): X·W^T for all steps in one GEMM per direction, then per step h·R^T on the packed R and
// the gate math on the cell kernel (f32_lstm_cell: peepholes, clip and input_forget), one call per batch row. Y and
// Y_c/Y_h in ONNX's layout 0.
import { intAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { gateRows, kernelsOf, project, readRecurrent, recur, stateOf } from "./recurrent";

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
    // Each direction's peepholes in kernel memory, placed once at load.
    const peepholes = rc.reverse.map((_, d) => (peep ? ctx.kx.put(peep.subarray(d * 3 * H, (d + 1) * 3 * H)) : 0));
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
        const G = 4 * H;
        for (let d = 0; d < dirs; d++) {
          const hd = h.ptr + d * batch * H * 4;
          for (let s = 0; s < seq; s++) {
            recur(kx, r[d]!, batch, hd, H, g);
            for (let b = 0; b < batch; b++) {
              const len = lens[b]!;
              if (s >= len) continue;
              const t = rc.reverse[d] ? len - 1 - s : s;
              const yAt = y ? y.ptr + ((t * dirs + d) * batch + b) * H * 4 : 0;
              kx.k.f32_lstm_cell(H, sq.xw[d]! + (t * batch + b) * G * 4, g + b * G * 4, peepholes[d]!, clip, inputForget ? 1 : 0, c.ptr + (d * batch + b) * H * 4, hd + b * H * 4, yAt);
            }
          }
        }
        return [y, h, c].filter((_, i) => rc.wanted[i]).map((a) => a!);
      },
    };
  },
};
