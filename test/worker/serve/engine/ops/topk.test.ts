// TopK against onnxruntime-node: largest and smallest along each axis, k from 1 to the axis length, ties (to the lower
// index), values and int64 indices (cast to float), batch 1 and 3; and a fold on a constant.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { inputMaker, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, int64 } from "@test/support/op-chains";

const { int, rand, constF, live } = inputMaker(20261211);

describe("TopK against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`largest and smallest along each axis, values and indices, ties included, batch ${batch}`, async () => {
      const dims = [batch, int(2, 6), int(3, 9)];
      const x: Input = { name: "x", dims, data: rand(dims.reduce((p, d) => p * d, 1)).map((v) => Math.round(v * 4)) };
      for (const axis of [1, 2, -1]) {
        const len = dims[axis < 0 ? axis + 3 : axis]!;
        for (const k of [1, Math.ceil(len / 2), len]) {
          for (const largest of [1, 0]) {
            const nodes = [
              makeNode("TopK", ["x", "k"], ["v", "i"], "topk", { axis, largest }),
              makeNode("Cast", ["i"], ["fi"], "to-float", { to: 1 }),
              makeNode("Concat", ["v", "fi"], ["y"], "both", { axis }),
            ];
            await compareAll(chainOf(nodes, [x, int64("k", [k])], ["y"], 13), [x]);
          }
        }
      }
    });
  }

  it("folds on a constant", async () => {
    const x = live("x", [2, 2]);
    const nodes = [makeNode("TopK", ["c", "k"], ["v", "i"], "topk"), makeNode("Add", ["x", "v"], ["y"], "add")];
    await compareAll(chainOf(nodes, [x, constF("c", [2, 5]), int64("k", [2])], ["y"], 13), [x]);
  });
});
