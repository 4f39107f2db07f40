// Gelu (opset 20, and the node fusion.ts makes of exporters' Erf form): x * Phi(x) exactly (approximate "none", in
// the kernels: f32_gelu_erf vectorises the erf fit below, as GELU sits on a transformer's widest activations) or
// through tanh (approximate "tanh").
import { stringAttribute } from "../../../onnx/attributes";
import { mapStep } from "../elementwise";
import type { Op } from "../op";
import { sizeOf, Uncovered } from "../values";

/*
 * erf as a rational function of x (odd numerator, even denominator, Eigen's float fit) on [-4, 4], +-1 beyond:
 * within 7e-8 absolute of erf everywhere, the accuracy float32 itself gives near 1. kernels/src/f32_activation.c
 * computes the same fit in float32 lanes; this one is the reference its test holds it to.
 */
const A1 = -1.60960333262415e-2, A3 = -2.95459980854025e-3, A5 = -7.34990630326855e-4, A7 = -5.69250639462346e-5;
const A9 = -2.10102402082508e-6, A11 = 2.77068142495902e-8, A13 = -2.72614225801306e-10;
const B0 = -1.42647390514189e-2, B2 = -7.37332916720468e-3, B4 = -1.68282697438203e-3, B6 = -2.13374055278905e-4;
const B8 = -1.45660718464996e-5;

export function erf(x: number): number {
  const u = x > 4 ? 4 : x < -4 ? -4 : x; // NaN compares false and stays NaN
  const u2 = u * u;
  const p = ((((((A13 * u2 + A11) * u2 + A9) * u2 + A7) * u2 + A5) * u2 + A3) * u2 + A1) * u;
  const q = (((B8 * u2 + B6) * u2 + B4) * u2 + B2) * u2 + B0;
  return p / q;
}

const TANH_SCALE = Math.sqrt(2 / Math.PI);

function geluTanh(src: Float32Array, dst: Float32Array): void {
  for (let i = 0; i < dst.length; i++) {
    const x = src[i]!;
    dst[i] = 0.5 * x * (1 + Math.tanh(TANH_SCALE * (x + 0.044715 * x * x * x)));
  }
}

export const gelu: Op = {
  plan(ctx) {
    const approximate = stringAttribute(ctx.node, "approximate", "none");
    if (approximate !== "none" && approximate !== "tanh") throw new Uncovered(`approximate '${approximate}'`);
    return mapStep(ctx, (run, a, y) => {
      if (approximate === "none") run.kx.k.f32_gelu_erf(sizeOf(a.dims), a.ptr, y.ptr);
      else geluTanh(run.view(a), run.view(y));
    });
  },
};
