// An Einsum equation as terms of indices ("bij,jk->bik"): one home for the engine's Einsum op and the operator
// table's Einsum weight slots.

export interface Equation {
  inputs: string[][];
  /** The output's indices, or null for the implicit output (each index used once, sorted, after the ellipsis). */
  output: string[] | null;
}

/** Indices of a term: letters, with "..." kept as one token. */
function termOf(term: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith("...", i)) {
      out.push("...");
      i += 2;
    } else if (/[a-zA-Z]/.test(term[i]!)) out.push(term[i]!);
    else throw new RangeError(`Einsum equation: '${term[i]}' is not an index`);
  }
  if (out.filter((t) => t === "...").length > 1) throw new RangeError("Einsum equation: two ellipses in one term");
  return out;
}

export function parseEquation(equation: string): Equation {
  const [lhs, rhs, extra] = equation.replace(/\s+/g, "").split("->");
  if (lhs === undefined || extra !== undefined) throw new RangeError(`Einsum equation '${equation}' is malformed`);
  return { inputs: lhs.split(",").map(termOf), output: rhs === undefined ? null : termOf(rhs) };
}
