// Einsum of one or two operands, as exporters write attention and bilinear forms ("bhqd,bhkd->bhqk",
// "bij,bjk->bik", "bi,bi->b", "ij->ji"), ellipsis and the implicit output included. Two operands are one batched
// GEMM on the kernels: indices only one operand has and the output lacks are summed out first, each operand is
// transposed to [batch, free, contracted] / [batch, contracted, free], multiplied, and the product transposed to the
// output's order. A repeated index within an operand (a diagonal or trace) or three operands are not covered.
import { stringAttribute } from "../../../onnx/attributes";
import { parseEquation, type Equation } from "../../../onnx/einsum-equation";
import type { Op } from "../op";
import { sizeOf, Uncovered, type Activation, type RunState } from "../values";
import { reduceKernel } from "./reduce";
import { matmulActivations } from "./matmul";
import { transposeActivation } from "./transpose";

/** Each operand's indices with its ellipsis expanded (aligned to the right, as numpy broadcasts), and the output's. */
function expand(eq: Equation, ranks: readonly number[]): { inputs: string[][]; output: string[] } {
  const counts = eq.inputs.map((t, i) => (t.includes("...") ? ranks[i]! - (t.length - 1) : 0));
  if (counts.some((c) => c < 0)) throw new RangeError(`Einsum operands of ranks [${ranks}] do not fit the equation`);
  const most = Math.max(0, ...counts);
  const ellipsis = Array.from({ length: most }, (_, i) => String.fromCharCode(0x100 + i));
  const fill = (t: string[], count: number) => t.flatMap((x) => (x === "..." ? ellipsis.slice(most - count) : [x]));
  const inputs = eq.inputs.map((t, i) => fill(t, counts[i]!));
  inputs.forEach((t, i) => {
    if (t.length !== ranks[i]) throw new RangeError(`Einsum operand ${i} has rank ${ranks[i]}, the equation ${t.length} indices`);
  });
  let output: string[];
  if (eq.output) output = fill(eq.output, most);
  else {
    const seen = inputs.flat().filter((x) => x.charCodeAt(0) < 0x100);
    output = [...ellipsis, ...[...new Set(seen)].filter((x) => seen.indexOf(x) === seen.lastIndexOf(x)).sort()];
  }
  return { inputs, output };
}

/** The operand with the indices in `drop` summed out. */
function sumOut(run: RunState, a: Activation, indices: string[], drop: Set<string>): { a: Activation; indices: string[] } {
  const axes = indices.flatMap((x, i) => (drop.has(x) ? [i] : []));
  if (axes.length === 0) return { a, indices };
  const y = run.alloc(a.dims.filter((_, i) => !axes.includes(i)));
  run.view(y).set(reduceKernel("Sum", run.view(a), a.dims, axes));
  return { a: y, indices: indices.filter((x) => !drop.has(x)) };
}

export const einsum: Op = {
  plan(ctx) {
    const eq = parseEquation(stringAttribute(ctx.node, "equation", ""));
    const operands = ctx.node.input.length;
    if (operands < 1 || operands > 2 || eq.inputs.length !== operands) throw new Uncovered(`an equation of ${eq.inputs.length} operands (${operands} inputs)`);
    for (const t of eq.inputs) {
      const letters = t.filter((x) => x !== "...");
      if (new Set(letters).size !== letters.length) throw new Uncovered(`a repeated index in '${t.join("")}' (a diagonal)`);
    }
    const xs = Array.from({ length: operands }, (_, i) => ctx.input(i));
    return {
      kind: "step",
      run(run) {
        const given = xs.map((x) => x(run));
        const { inputs, output } = expand(eq, given.map((a) => a.dims.length));
        const size = new Map<string, number>();
        inputs.forEach((t, i) =>
          t.forEach((x, d) => {
            const n = given[i]!.dims[d]!;
            if (size.has(x) && size.get(x) !== n) throw new RangeError(`Einsum index '${x}' is ${size.get(x)} in one operand and ${n} in another`);
            size.set(x, n);
          }),
        );
        for (const x of output) if (!size.has(x)) throw new RangeError(`Einsum output index '${x}' is in no operand`);
        const inOut = new Set(output);
        if (operands === 1) {
          const s = sumOut(run, given[0]!, inputs[0]!, new Set(inputs[0]!.filter((x) => !inOut.has(x))));
          return [transposeActivation(run, s.a, output.map((x) => s.indices.indexOf(x)))];
        }
        const [ta, tb] = inputs as [string[], string[]];
        const a = sumOut(run, given[0]!, ta, new Set(ta.filter((x) => !inOut.has(x) && !tb.includes(x))));
        const b = sumOut(run, given[1]!, tb, new Set(tb.filter((x) => !inOut.has(x) && !ta.includes(x))));
        const batch = output.filter((x) => a.indices.includes(x) && b.indices.includes(x));
        const left = output.filter((x) => a.indices.includes(x) && !b.indices.includes(x));
        const right = output.filter((x) => b.indices.includes(x) && !a.indices.includes(x));
        const contracted = a.indices.filter((x) => b.indices.includes(x) && !inOut.has(x));
        const dimsOf = (xs: string[]) => xs.map((x) => size.get(x)!);
        const [B, M, K, N] = [dimsOf(batch), sizeOf(dimsOf(left)), sizeOf(dimsOf(contracted)), sizeOf(dimsOf(right))];
        const at = transposeActivation(run, a.a, [...batch, ...left, ...contracted].map((x) => a.indices.indexOf(x)));
        const bt = transposeActivation(run, b.a, [...batch, ...contracted, ...right].map((x) => b.indices.indexOf(x)));
        const product = matmulActivations(run, { dims: [...B, M, K], ptr: at.ptr }, { dims: [...B, K, N], ptr: bt.ptr });
        const order = [...batch, ...left, ...right];
        return [transposeActivation(run, { dims: dimsOf(order), ptr: product.ptr }, output.map((x) => order.indexOf(x)))];
      },
    };
  },
};
