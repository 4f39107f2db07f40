// Pad in constant, reflect or edge mode: pads (and the constant value) as attributes before opset 11, as inputs from
// 11, with axes from 18. Negative pads crop. Folds on constants.
import { floatAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import { remapOp, type Layout } from "../elementwise";
import type { Op } from "../op";
import { intInput, normalizeAxis, offsetsOf, stridesOf, type IntInput } from "../shape";
import { floatData, Uncovered } from "../values";

/** The source index of output position i along a dim of `size` with `begin` padding, or -1 (constant padding). */
function sourceOf(mode: string, size: number, begin: number): (i: number) => number {
  return (i) => {
    let j = i - begin;
    if (j >= 0 && j < size) return j;
    if (mode === "constant" || size === 0) return -1;
    if (mode === "edge") return j < 0 ? 0 : size - 1;
    if (size === 1) return 0;
    const period = 2 * (size - 1); // reflect: mirror about the first and last elements, which are not repeated
    j = ((j % period) + period) % period;
    return j < size ? j : period - j;
  };
}

export function padLayout(dims: readonly number[], pads: readonly number[], mode: string, value: number): Layout {
  const rank = dims.length;
  if (pads.length !== 2 * rank) throw new RangeError(`Pad has ${pads.length} pads for rank ${rank}`);
  const strides = stridesOf(dims);
  const out = dims.map((d, i) => d + pads[i]! + pads[i + rank]!);
  if (out.some((d) => d < 0)) throw new RangeError(`Pad of [${dims}] by [${pads}] is negative`);
  return { dims: out, offsets: out.map((n, d) => offsetsOf(n, strides[d]!, sourceOf(mode, dims[d]!, pads[d]!))), fill: value };
}

export const pad: Op = {
  plan(ctx) {
    const mode = stringAttribute(ctx.node, "mode", "constant");
    if (mode !== "constant" && mode !== "reflect" && mode !== "edge") throw new Uncovered(`mode ${mode}`);
    if (ctx.opset < 11) {
      const pads = intsAttribute(ctx.node, "pads", []);
      const value = floatAttribute(ctx.node, "value", 0);
      return remapOp(ctx, [], (dims) => padLayout(dims, pads, mode, value));
    }
    const params: IntInput[] = [intInput(ctx, 1)];
    if (ctx.has(2)) {
      const c = ctx.constant(2);
      if (c) {
        const v = [floatData(c)[0] ?? 0];
        params.push({ known: v, read: () => v });
      } else {
        const x = ctx.input(2);
        params.push({ known: undefined, read: (run) => [run.view(x(run))[0]!] });
      }
    } else params.push({ known: [0], read: () => [0] });
    const hasAxes = ctx.has(3);
    if (hasAxes) params.push(intInput(ctx, 3));
    return remapOp(ctx, params, (dims, [pads, values, axes]) => {
      const value = values![0]!;
      let full = pads!;
      if (hasAxes) {
        const rank = dims.length;
        full = new Array<number>(2 * rank).fill(0);
        axes!.forEach((a, i) => {
          const d = normalizeAxis(a, rank);
          full[d] = pads![i]!;
          full[d + rank] = pads![i + axes!.length]!;
        });
      }
      return padLayout(dims, full, mode, value);
    });
  },
};
