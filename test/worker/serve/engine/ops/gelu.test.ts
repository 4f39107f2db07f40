// Gelu (opset 20) against onnxruntime-node, exact (Erf) and tanh approximations, over values from -8 to 8, odd sizes,
// batch 1 and 3, within 1e-5 relative; the erf it is built on against published values. The decomposed Erf forms that become this
// op are in ../fusion.test.ts.
import { describe, expect, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { erf } from "@worker/serve/engine/ops/gelu";

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

  it("takes erf within 1e-7 of its published values", () => {
    const table: [number, number][] = [[0, 0], [0.25, 0.2763263901682369], [-0.5, -0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-3, -0.9999779095030014], [4.5, 0.9999999998033839]];
    for (const [x, want] of table) expect(Math.abs(erf(x) - want)).toBeLessThan(1e-7);
  });
});
