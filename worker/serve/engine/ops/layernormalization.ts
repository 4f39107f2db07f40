// LayerNormalization (opset 17, and the node fusion.ts makes of exporters' decomposed layer norm): each row of the
// axes from `axis` on is brought to zero mean and unit variance, then y = n * Scale + B, broadcasting as the
// operator's function body does. In the kernels when Scale and B are constants of one row's length (the usual [D]
// vectors); here, one pass per row, when they repeat along the row otherwise; else the normalized tensor goes through
// broadcasting Mul and Add. An absent Scale (only fusion.ts writes one,
// for a layer norm without gamma) multiplies by 1. The Mean and InvStdDev outputs are not computed.
import { floatAttribute, intAttribute } from "../../../onnx/attributes";
import type { Op, PlanContext } from "../op";
import { broadcastBinary, broadcastDims, normalizeAxis } from "../shape";
import { floatData, RunState, sizeOf, Uncovered, type Activation } from "../values";

/** An affine operand: its dims and values, read at load (constant) or per run. */
type Operand = (run: RunState) => { dims: readonly number[]; data: Float32Array };

function operand(ctx: PlanContext, i: number): Operand | null {
  if (!ctx.has(i)) return null;
  const c = ctx.constant(i);
  if (c) {
    const fixed = { dims: c.dims, data: floatData(c) };
    return () => fixed;
  }
  const a = ctx.input(i);
  return (run) => {
    const v = a(run);
    return { dims: v.dims, data: run.view(v).slice() };
  };
}

/** The operand repeated along a row of `row` dims (length = their product), or null when it varies across rows. */
function alongRow(op: { dims: readonly number[]; data: Float32Array }, row: readonly number[]): Float32Array | null {
  const dims = [...op.dims];
  while (dims.length > 0 && dims[0] === 1) dims.shift();
  if (dims.length > row.length || !dims.every((d, i) => d === row[row.length - dims.length + i])) return null;
  const len = sizeOf(row);
  const m = op.data.length;
  if (m === len) return op.data;
  return Float32Array.from({ length: len }, (_, j) => op.data[j % m]!);
}

export const layernormalization: Op = {
  plan(ctx) {
    if (ctx.node.output.slice(1).some((o) => o)) throw new Uncovered("the Mean and InvStdDev outputs are requested");
    const axisAttr = intAttribute(ctx.node, "axis", -1);
    const eps = floatAttribute(ctx.node, "epsilon", 1e-5);
    const x = ctx.input(0);
    const scale = operand(ctx, 1);
    const bias = operand(ctx, 2);
    // Constant Scale and B of one row's length (the usual [D] vectors) are placed in kernel memory at load, so rows
    // normalize in the kernels; other forms (run-time, broadcast across rows) stay here.
    const placed = (i: number) => {
      const c = ctx.has(i) ? ctx.constant(i) : undefined;
      if (!c) return null;
      const data = floatData(c);
      return { length: data.length, ptr: ctx.kx.put(data) };
    };
    const [scalePlaced, biasPlaced] = [placed(1), placed(2)];
    const inKernels = (!scale || scalePlaced) && (!bias || biasPlaced);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const axis = normalizeAxis(axisAttr, a.dims.length);
        const row = a.dims.slice(axis);
        const D = sizeOf(row);
        const rows = D === 0 ? 0 : sizeOf(a.dims) / D;
        if (inKernels && (!scalePlaced || scalePlaced.length === D) && (!biasPlaced || biasPlaced.length === D)) {
          const y = run.alloc([...a.dims]);
          run.kx.k.f32_layernorm_rows(rows, D, a.ptr, scalePlaced?.ptr ?? 0, biasPlaced?.ptr ?? 0, eps, y.ptr);
          return [y];
        }
        const s = scale?.(run);
        const b = bias?.(run);
        const sRow = s ? alongRow(s, row) : null;
        const bRow = b ? alongRow(b, row) : null;
        const fast = (!s || sRow) && (!b || bRow);
        const n = run.alloc([...a.dims]);
        const src = run.view(a);
        const dst = run.view(n);
        for (let r = 0; r < rows; r++) {
          const o = r * D;
          let sum = 0;
          for (let j = 0; j < D; j++) sum += src[o + j]!;
          const mean = sum / D;
          let sq = 0;
          for (let j = 0; j < D; j++) {
            const d = src[o + j]! - mean;
            sq += d * d;
          }
          const inv = 1 / Math.sqrt(sq / D + eps);
          if (!fast) for (let j = 0; j < D; j++) dst[o + j] = (src[o + j]! - mean) * inv;
          else if (sRow && bRow) for (let j = 0; j < D; j++) dst[o + j] = (src[o + j]! - mean) * inv * sRow[j]! + bRow[j]!;
          else if (sRow) for (let j = 0; j < D; j++) dst[o + j] = (src[o + j]! - mean) * inv * sRow[j]!;
          else if (bRow) for (let j = 0; j < D; j++) dst[o + j] = (src[o + j]! - mean) * inv + bRow[j]!;
          else for (let j = 0; j < D; j++) dst[o + j] = (src[o + j]! - mean) * inv;
        }
        if (fast) return [n];
        let y: Activation = n;
        for (const [p, f] of [[s, (u: number, v: number) => u * v], [b, (u: number, v: number) => u + v]] as const) {
          if (!p) continue;
          const dims = broadcastDims(y.dims, p.dims);
          const z = run.alloc(dims);
          broadcastBinary(run.view(y), y.dims, p.data, p.dims, run.view(z), dims, f);
          y = z;
        }
        return [y];
      },
    };
  },
};
