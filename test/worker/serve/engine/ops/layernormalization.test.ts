// LayerNormalization (opset 17) against onnxruntime-node: over the last axis and over several trailing axes, with
// and without B, a non-default epsilon, odd sizes, batch 1 and 3, within 1e-5 relative. The decomposed forms that
// become this op are in ../fusion.test.ts.
import { describe, expect, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { loadKernels } from "@test/support/engine";

const { int, live, constF } = inputMaker(20261207);

describe("LayerNormalization against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`normalizes the rows of the last axis with scale and bias, batch ${batch}`, async () => {
      for (let t = 0; t < 3; t++) {
        const [S, D] = [int(1, 17), int(2, 97)];
        const ins = [live("x", [batch, S, D]), constF("g", [D]), constF("b", [D])];
        await compare(graphOf("LayerNormalization", ins, { axis: -1 }, 3, 17), ins);
      }
    });

    it(`normalizes over several trailing axes, without bias, with a given epsilon, batch ${batch}`, async () => {
      const [H, S, D] = [int(2, 5), int(2, 9), int(2, 33)];
      const trailing = [live("x", [batch, H, S, D]), constF("g", [S, D]), constF("b", [S, D])];
      await compare(graphOf("LayerNormalization", trailing, { axis: -2, epsilon: 1e-3 }, 4, 17), trailing);
      const fromOne = [live("x", [batch, H, S, D]), constF("g", [H, S, D])];
      await compare(graphOf("LayerNormalization", fromOne, { axis: 1 }, 4, 17), fromOne);
      // Tiny variance: epsilon dominates.
      const flat = [{ name: "x", dims: [batch, D], data: Float32Array.from({ length: batch * D }, (_, i) => 1 + (i % 2) * 1e-4) }, constF("g", [D]), constF("b", [D])];
      await compare(graphOf("LayerNormalization", flat, { epsilon: 1e-2 }, 2, 17), flat);
    });

    it(`reads scale and bias computed at run time, batch ${batch}`, async () => {
      const D = int(2, 41);
      const ins = [live("x", [batch, 3, D]), live("g", [D]), live("b", [D])];
      await compare(graphOf("LayerNormalization", ins, {}, 3, 17), ins);
    });
  }

  it("leaves to onnxruntime-web a node whose Mean and InvStdDev outputs are read", () => {
    const ins = [live("x", [2, 5]), constF("g", [5])];
    expect(() => loadKernels(graphOf("LayerNormalization", ins, {}, 2, 17, 2))).toThrow(/Mean and InvStdDev/);
  });
});
