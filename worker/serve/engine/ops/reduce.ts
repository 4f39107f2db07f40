// The Reduce family (Mean, Max, Sum, Min, Prod; L1, L2, SumSquare, LogSum and LogSumExp as sums of a mapped source,
// mapped again after): axes from the attribute (before opset 18; ReduceSum before 13) or the
// optional input, keepdims, noop_with_empty_axes. Adjacent reduced dims are merged and each run reduced as
// [outer, len, inner] in float64, the result rounded to float32 once; at run time a reduction over trailing axes
// runs on the kernels instead, a row at a time (Sum and Mean summed in float32, Max and Min exact). A NaN makes a
// Max or Min NaN on either path.
import { intAttribute, intsAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis } from "../shape";
import { sizeOf, Uncovered } from "../values";

export type ReduceKind = "Mean" | "Max" | "Sum" | "Min" | "Prod" | "L1" | "L2" | "SumSquare" | "LogSum" | "LogSumExp";

/** Kinds that sum a mapped source (the map), and those that map the sums (after); with no axes reduced
 * (noop_with_empty_axes) both maps still apply, as onnxruntime applies them. */
const BEFORE: Partial<Record<ReduceKind, (v: number) => number>> = { L1: Math.abs, L2: (v) => v * v, SumSquare: (v) => v * v, LogSumExp: Math.exp };
const AFTER: Partial<Record<ReduceKind, (v: number) => number>> = { L2: Math.sqrt, LogSum: Math.log, LogSumExp: Math.log };

/** Reduces `src` of `dims` over `axes` (sorted, unique); the result in the kept dims' order. */
export function reduceKernel(kind: ReduceKind, src: ArrayLike<number>, dims: readonly number[], axes: readonly number[]): Float64Array {
  // Runs of dims: [size, reduced], adjacent runs of the same kind merged.
  const runs: [number, boolean][] = [];
  dims.forEach((d, i) => {
    const r = axes.includes(i);
    const last = runs[runs.length - 1];
    if (last && last[1] === r) last[0] *= d;
    else runs.push([d, r]);
  });
  // The source is read where it lies (a float32 activation converts to float64 exactly); only the partial results
  // are float64 arrays, each the size of what is left after a reduced run, never a float64 copy of the whole source.
  const before = BEFORE[kind];
  let data: ArrayLike<number> = before ? Float64Array.from(src, before) : src;
  let count = 1;
  for (let k = runs.length - 1; k >= 0; k--) {
    const [len, reduced] = runs[k]!;
    if (!reduced) continue;
    count *= len;
    const outer = runs.slice(0, k).reduce((p, r) => p * r[0], 1);
    const inner = runs.slice(k + 1).reduce((p, r) => p * r[0], 1);
    const out = new Float64Array(outer * inner);
    const init = kind === "Max" ? -Infinity : kind === "Min" ? Infinity : kind === "Prod" ? 1 : 0;
    out.fill(init);
    for (let o = 0; o < outer; o++) {
      const dst = o * inner;
      for (let j = 0; j < len; j++) {
        const s = (o * len + j) * inner;
        switch (kind) {
          case "Max": for (let i = 0; i < inner; i++) { const v = data[s + i]!; if (v > out[dst + i]! || v !== v) out[dst + i] = v; } break;
          case "Min": for (let i = 0; i < inner; i++) { const v = data[s + i]!; if (v < out[dst + i]! || v !== v) out[dst + i] = v; } break;
          case "Prod": for (let i = 0; i < inner; i++) out[dst + i] = out[dst + i]! * data[s + i]!; break;
          default: for (let i = 0; i < inner; i++) out[dst + i] = out[dst + i]! + data[s + i]!;
        }
      }
    }
    runs[k]![0] = 1;
    data = out;
  }
  const result = data instanceof Float64Array && data !== src ? data : Float64Array.from(data);
  if (kind === "Mean") for (let i = 0; i < result.length; i++) result[i] = result[i]! / count;
  const after = AFTER[kind];
  if (after) for (let i = 0; i < result.length; i++) result[i] = after(result[i]!);
  return result;
}

/**
 * The element count of the reduced dims when they are the trailing ones (each kept row then sums one contiguous
 * run, on the kernel), else null.
 */
function trailingRun(dims: readonly number[], axes: readonly number[]): number | null {
  if (axes.length === 0 || axes.some((a, i) => a !== dims.length - axes.length + i)) return null;
  return axes.reduce((p, a) => p * dims[a]!, 1);
}

/** Output dims of a reduction: reduced dims kept as 1s, or dropped. */
export function reducedDims(dims: readonly number[], axes: readonly number[], keep: boolean): number[] {
  return keep ? dims.map((d, i) => (axes.includes(i) ? 1 : d)) : dims.filter((_, i) => !axes.includes(i));
}

export function reduceOp(kind: ReduceKind): Op {
  return {
    plan(ctx) {
      const fromInput = ctx.opset >= (kind === "Sum" ? 13 : 18);
      const keep = intAttribute(ctx.node, "keepdims", 1) === 1;
      const noop = fromInput && intAttribute(ctx.node, "noop_with_empty_axes", 0) === 1;
      let given: number[] | undefined = [];
      if (!fromInput) given = intsAttribute(ctx.node, "axes", []);
      else if (ctx.has(1)) given = intInput(ctx, 1).known;
      if (!given) throw new Uncovered("axes are computed at run time");
      const axesOf = (rank: number) =>
        given.length === 0 ? (noop ? [] : [...Array(rank).keys()]) : [...new Set(given.map((a) => normalizeAxis(a, rank)))].sort((a, b) => a - b);
      const c = ctx.constant(0);
      if (c) {
        const axes = axesOf(c.dims.length);
        const out = reduceKernel(kind, numbersOf(c), c.dims, axes);
        const dims = reducedDims(c.dims, axes, keep);
        return { kind: "constant", outputs: [c.dtype === DT.FLOAT || c.quant ? { dims, dtype: DT.FLOAT, data: Float32Array.from(out) } : constantOf(c.dtype, dims, out)] };
      }
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          const axes = axesOf(a.dims.length);
          const y = run.alloc(reducedDims(a.dims, axes, keep));
          const len = trailingRun(a.dims, axes);
          if ((kind === "Sum" || kind === "Mean") && len !== null && len > 0) {
            run.kx.k.f32_rows_sum(sizeOf(a.dims) / len, len, a.ptr, kind === "Mean" ? len : 1, y.ptr);
          } else if ((kind === "Max" || kind === "Min") && len !== null && len > 0) {
            run.kx.k.f32_rows_extreme(sizeOf(a.dims) / len, len, a.ptr, kind === "Min" ? 1 : 0, y.ptr);
          } else {
            run.view(y).set(reduceKernel(kind, run.view(a), a.dims, axes));
          }
          return [y];
        },
      };
    },
  };
}
