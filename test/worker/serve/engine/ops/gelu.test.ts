// Gelu (opset 20) against onnxruntime-node, exact (Erf) and tanh approximations, over values from -8 to 8, odd sizes,
// batch 1 and 3, within 1e-5 relative; the erfc it is built on against published values. The decomposed Erf forms that become this
// op are in ../fusion.test.ts.
import { describe, expect, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { erfc } from "@worker/serve/engine/ops/gelu";

const { int, rand } = inputMaker(20261208);

describe("Gelu against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`computes x * Phi(x) exactly and through tanh, batch ${batch}`, async () => {
      const dims = [batch, int(3, 19), int(5, 61)];
      const x = { name: "x", dims, data: rand(dims.reduce((p, d) => p * d, 1), 8) };
      for (const approximate of ["none", "tanh"]) await compare(graphOf("Gelu", [x], { approximate }, 3, 20), [x]);
      await compare(graphOf("Gelu", [x], {}, 3, 20), [x]);
    });
  }

  it("takes erfc within 1.2e-7 relative where 1 + erf(x) cancels (published values)", () => {
    const table: [number, number][] = [[0, 1], [0.5, 0.4795001221869535], [1, 0.15729920705028513], [-1, 1.8427007929497148], [3, 2.209049699858544e-5], [5, 1.5374597944280349e-12], [-3, 1.999977909503001]];
    for (const [z, want] of table) expect(Math.abs(erfc(z) - want) / want).toBeLessThan(1.2e-7);
  });
});
