// DepthToSpace (DCR and CRD) and SpaceToDepth against onnxruntime-node at block sizes 2 and 3, odd spatial sizes,
// batch 1 and 3; a round trip through both; and a fold on a constant (then added to a run-time input).
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { chainOf, compareAll } from "@test/support/op-chains";

const { int, live, constF } = inputMaker(20261207);

describe("DepthToSpace and SpaceToDepth against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`DepthToSpace in DCR and CRD mode, block 2 and 3, batch ${batch}`, async () => {
      for (const b of [2, 3]) {
        const x = live("x", [batch, b * b * int(1, 4), int(1, 5), int(1, 6)]);
        for (const mode of ["DCR", "CRD"]) await compare(graphOf("DepthToSpace", [x], { blocksize: b, mode }, 4, 13), [x]);
      }
    });

    it(`SpaceToDepth, block 2 and 3, and back through DepthToSpace (DCR), batch ${batch}`, async () => {
      for (const b of [2, 3]) {
        const x = live("x", [batch, int(1, 4), b * int(1, 4), b * int(1, 5)]);
        await compare(graphOf("SpaceToDepth", [x], { blocksize: b }, 4, 13), [x]);
        const nodes = [makeNode("SpaceToDepth", ["x"], ["d"], "s2d", { blocksize: b }), makeNode("DepthToSpace", ["d"], ["y"], "d2s", { blocksize: b })];
        await compareAll(chainOf(nodes, [x], ["y"], 13), [x]);
      }
    });

    it(`DepthToSpace of a constant folds, batch ${batch}`, async () => {
      const x = live("x", [batch, 2, 6, 4]);
      const nodes = [makeNode("DepthToSpace", ["c"], ["d"], "d2s", { blocksize: 2, mode: "CRD" }), makeNode("Add", ["x", "d"], ["y"], "add")];
      await compareAll(chainOf(nodes, [x, constF("c", [1, 8, 3, 2])], ["y"], 13), [x]);
    });
  }
});
