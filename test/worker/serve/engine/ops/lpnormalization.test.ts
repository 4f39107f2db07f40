// LpNormalization against onnxruntime-node: p 1 and 2 along each axis (the default the last), batch 1 and 3.
import { describe, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";

const { int, live } = inputMaker(20261212);

describe("LpNormalization against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`p 1 and 2 along each axis, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 6), int(2, 9)]);
      await compare(graphOf("LpNormalization", [x], {}, 3), [x]);
      for (const axis of [0, 1, 2, -1]) for (const p of [1, 2]) await compare(graphOf("LpNormalization", [x], { axis, p }, 3), [x]);
    });
  }
});
