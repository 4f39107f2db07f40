// Building blocks for elementwise ops: a unary map and a broadcasting binary op that folds when both operands are
// constant.
import type { Op, OpPlan, PlanContext } from "./op";
import { broadcastBinary, broadcastDims } from "./shape";
import { floatData } from "./values";
import { DT } from "../../onnx/dtype";

export function unaryOp(f: (x: number) => number): Op {
  return {
    plan(ctx) {
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          const y = run.alloc([...a.dims]);
          const src = run.view(a);
          const dst = run.view(y);
          for (let i = 0; i < dst.length; i++) dst[i] = f(src[i]!);
          return [y];
        },
      };
    },
  };
}

export function binaryOp(f: (x: number, y: number) => number): Op {
  return {
    plan(ctx: PlanContext): OpPlan {
      const ca = ctx.constant(0);
      const cb = ctx.constant(1);
      if (ca && cb) {
        const dims = broadcastDims(ca.dims, cb.dims);
        const data = new Float32Array(dims.reduce((p, d) => p * d, 1));
        broadcastBinary(floatData(ca), ca.dims, floatData(cb), cb.dims, data, dims, f);
        return { kind: "constant", outputs: [{ dims, dtype: DT.FLOAT, data }] };
      }
      const a = ctx.input(0);
      const b = ctx.input(1);
      return {
        kind: "step",
        run(run) {
          const x = a(run);
          const w = b(run);
          const dims = broadcastDims(x.dims, w.dims);
          const y = run.alloc(dims);
          broadcastBinary(run.view(x), x.dims, run.view(w), w.dims, run.view(y), dims, f);
          return [y];
        },
      };
    },
  };
}

/** An op whose output is its input with other dims (no copy: activations are never written in place). */
export function viewOp(dimsOf: (dims: readonly number[]) => number[]): Op {
  return {
    plan(ctx) {
      const c = ctx.constant(0);
      if (c) return { kind: "constant", outputs: [{ ...c, dims: dimsOf(c.dims), quant: undefined, data: floatData(c) }] };
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          return [{ dims: dimsOf(a.dims), ptr: a.ptr }];
        },
      };
    },
  };
}
