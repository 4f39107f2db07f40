// GatherElements against onnxruntime-node: each axis of a 3-D input, negative indices, indices smaller than the data
// along other axes, run-time indices (cast from a float input), batch 1 and 3; and a fold on constants.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { inputMaker, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, int64 } from "@test/support/op-chains";

const { int, live, constF } = inputMaker(20261210);

describe("GatherElements against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`along each axis with constant and run-time indices, batch ${batch}`, async () => {
      const dims = [batch, int(2, 5), int(2, 7)];
      const x = live("x", dims);
      for (const axis of [0, 1, 2, -1]) {
        const a = axis < 0 ? axis + 3 : axis;
        const idxDims = dims.map((d, i) => (i === a ? int(1, 6) : Math.max(1, d - (i === 2 ? 1 : 0))));
        const count = idxDims.reduce((p, d) => p * d, 1);
        const values = Array.from({ length: count }, (_, i) => ((i * 7) % (2 * dims[a]!)) - dims[a]!); // negatives too
        const nodes = [makeNode("GatherElements", ["x", "i"], ["y"], "gather", { axis })];
        await compareAll(chainOf(nodes, [x, int64("i", values, idxDims)], ["y"], 13), [x]);
        // Run-time indices: non-negative floats cast to int64.
        const liveIndices: Input = { name: "f", dims: idxDims, data: Float32Array.from(values, (v) => (v < 0 ? v + dims[a]! : v)) };
        const cast = [makeNode("Cast", ["f"], ["i"], "to-int", { to: 7 }), ...nodes];
        await compareAll(chainOf(cast, [x, liveIndices], ["y"], 13), [x, liveIndices]);
      }
    });
  }

  it("folds on a constant table and indices", async () => {
    const x = live("x", [2, 3]);
    const nodes = [makeNode("GatherElements", ["c", "i"], ["g"], "gather", { axis: 1 }), makeNode("Add", ["x", "g"], ["y"], "add")];
    await compareAll(chainOf(nodes, [x, constF("c", [2, 4]), int64("i", [3, 0, -1, 1, 2, 2], [2, 3])], ["y"], 13), [x]);
  });
});
