// ScatterND: data with the slices that indices name replaced by updates, or combined with them (reduction add, mul,
// max, min; opset 16 and 18). torch writes it for in-place slice assignment (Swin's shifted-window attention mask);
// folds at load when every input is constant. Negative indices count from the end; one out of range fails the run.
import { stringAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { stridesOf } from "../shape";
import { floatData, Uncovered } from "../values";

type Reduction = "none" | "add" | "mul" | "max" | "min";
const REDUCTIONS: readonly string[] = ["none", "add", "mul", "max", "min"];

/** Scatters `updates` into `out` (data's copy, of `dims`) at the index tuples of `indices` ([..., k]). */
export function scatterNd(out: Float32Array | Float64Array, dims: readonly number[], indices: ArrayLike<number>, indexDims: readonly number[], updates: ArrayLike<number>, reduction: Reduction): void {
  const k = indexDims[indexDims.length - 1] ?? 0;
  if (indexDims.length === 0 || k > dims.length) throw new RangeError(`ScatterND indices of dims [${indexDims}] do not index data of dims [${dims}]`);
  const tuples = indexDims.slice(0, -1).reduce((p, d) => p * d, 1);
  const slice = dims.slice(k).reduce((p, d) => p * d, 1);
  if (updates.length !== tuples * slice) throw new RangeError(`ScatterND updates hold ${updates.length} elements, indices [${indexDims}] into [${dims}] need ${tuples * slice}`);
  const strides = stridesOf(dims);
  for (let t = 0; t < tuples; t++) {
    let offset = 0;
    for (let j = 0; j < k; j++) {
      let v = Math.round(indices[t * k + j]!);
      if (v < 0) v += dims[j]!;
      if (v < 0 || v >= dims[j]!) throw new RangeError(`ScatterND index ${indices[t * k + j]} is out of range for dim ${j} of ${dims[j]}`);
      offset += v * strides[j]!;
    }
    const from = t * slice;
    for (let i = 0; i < slice; i++) {
      const u = updates[from + i]!;
      const o = offset + i;
      switch (reduction) {
        case "none": out[o] = u; break;
        case "add": out[o] = out[o]! + u; break;
        case "mul": out[o] = out[o]! * u; break;
        case "max": out[o] = Math.max(out[o]!, u); break;
        case "min": out[o] = Math.min(out[o]!, u); break;
      }
    }
  }
}

export const scatternd: Op = {
  plan(ctx) {
    const reduction = stringAttribute(ctx.node, "reduction", "none");
    if (!REDUCTIONS.includes(reduction)) throw new Uncovered(`reduction '${reduction}'`);
    const [data, indices, updates] = [0, 1, 2].map((i) => ctx.constant(i));
    if (data && indices && updates) {
      const out = Float64Array.from(numbersOf(data));
      scatterNd(out, data.dims, numbersOf(indices), indices.dims, numbersOf(updates), reduction as Reduction);
      const dtype = data.quant || data.dtype === DT.FLOAT16 ? DT.FLOAT : data.dtype;
      if (dtype === DT.FLOAT) return { kind: "constant", outputs: [{ dims: [...data.dims], dtype, data: Float32Array.from(out) }] };
      return { kind: "constant", outputs: [constantOf(dtype, [...data.dims], out)] };
    }
    const x = ctx.input(0);
    const ids = indices ? { dims: indices.dims, values: numbersOf(indices) } : null;
    const idsIn = indices ? null : ctx.input(1);
    const up = updates ? floatData(updates) : null;
    const upIn = updates ? null : ctx.input(2);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const y = run.alloc([...a.dims]);
        const out = run.view(y);
        out.set(run.view(a));
        const live = ids ? null : idsIn!(run);
        const index = ids ?? { dims: live!.dims, values: run.view(live!) };
        scatterNd(out, a.dims, index.values, index.dims, up ?? run.view(upIn!(run)), reduction as Reduction);
        return [y];
      },
    };
  },
};
