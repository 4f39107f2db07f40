// Gelu (opset 20, and the node fusion.ts makes of exporters' Erf form): x * Phi(x) exactly (approximate "none") or
// through tanh (approximate "tanh"), one pass over the tensor.
import { stringAttribute } from "../../../onnx/attributes";
import { unaryOp } from "../elementwise";
import type { Op } from "../op";
import { Uncovered } from "../values";

/**
 * erfc(z) with fractional error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit, erfcc): written as
 * 0.5 x erfc(-x / sqrt 2), GELU keeps that relative accuracy in its negative tail, where 1 + erf(x / sqrt 2) cancels.
 */
export function erfc(z: number): number {
  const a = Math.abs(z);
  const t = 1 / (1 + 0.5 * a);
  const r =
    t *
    Math.exp(
      -a * a - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? r : 2 - r;
}

const geluErf = (x: number) => 0.5 * x * erfc(-x * Math.SQRT1_2);

const TANH_SCALE = Math.sqrt(2 / Math.PI);
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(TANH_SCALE * (x + 0.044715 * x * x * x)));

const exact = unaryOp(geluErf);
const tanh = unaryOp(geluTanh);

export const gelu: Op = {
  plan(ctx) {
    const approximate = stringAttribute(ctx.node, "approximate", "none");
    if (approximate === "none") return exact.plan(ctx);
    if (approximate === "tanh") return tanh.plan(ctx);
    throw new Uncovered(`approximate '${approximate}'`);
  },
};
