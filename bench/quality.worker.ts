// The rounding quality benchmark (`npm run bench -- --only quality`): every reference model (the MNIST MLPs and CNN,
// the Fashion-MNIST CNN and the depthwise-separable one) through the API in workerd, with nearest, GPTQ and AdaRound
// rounding, bias correction and, at 4 bits, nearest rounding on clipped scales and the asymmetric grids
// (test/support/rounding-quality.ts). Each model prints one {"quality": rows} line, which
// bench/run.mjs gathers into bench/results/quality.json; docs/quantization.md's table is rendered from that.
import { describe, it } from "vitest";
import { CNN_CASES, measureRounding, MLP_CASES } from "@test/support/rounding-quality";

describe("rounding quality on the reference models", () => {
  for (const c of [...MLP_CASES, ...CNN_CASES]) it(c.name, async () => void (await measureRounding(c, { adaround: true, clipped: true, quantizedInputs: true, asymmetric: true })), 1_800_000);
});
