// CumSum (exclusive, reverse, any axis, axis as an input) and ArgMax/ArgMin (each axis, keepdims, select_last_index,
// ties) against onnxruntime-node at odd shapes, batch 1 and 3; RoBERTa's position ids (cumsum of the attention mask
// times the mask, from int64 ids); and folds on constants.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { inputMaker, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, int64 } from "@test/support/op-chains";

const { int, live, rand, constF } = inputMaker(20261208);

describe("CumSum against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`along each axis, exclusive and reverse, batch ${batch}`, async () => {
      const x = live("x", [batch, int(1, 6), int(2, 9)]);
      for (const axis of [0, 1, 2, -1]) {
        for (const exclusive of [0, 1]) {
          for (const reverse of [0, 1]) {
            const nodes = [makeNode("CumSum", ["x", "axis"], ["y"], "cumsum", { exclusive, reverse })];
            await compareAll(chainOf(nodes, [x, int64("axis", [axis], [])], ["y"], 14), [x]);
          }
        }
      }
    });

    it(`RoBERTa position ids from a padded mask: cumsum(mask) * mask + pad, batch ${batch}`, async () => {
      // The mask as floats 0/1 (padding at the end of some rows), cast to int64 as the exporter writes it.
      const S = int(3, 9);
      const mask: Input = { name: "mask", dims: [batch, S], data: Float32Array.from({ length: batch * S }, (_, i) => (i % S < S - (i % 3) ? 1 : 0)) };
      const nodes = [
        makeNode("Cast", ["mask"], ["m"], "to-int", { to: 7 }),
        makeNode("CumSum", ["m", "axis"], ["c"], "cumsum"),
        makeNode("Mul", ["c", "m"], ["p"], "keep"),
        makeNode("Add", ["p", "pad"], ["ids"], "offset"),
        makeNode("Cast", ["ids"], ["y"], "to-float", { to: 1 }),
      ];
      await compareAll(chainOf(nodes, [mask, int64("axis", [1], []), int64("pad", [1], [])], ["y"], 14), [mask]);
    });

    it(`a CumSum of a constant folds, batch ${batch}`, async () => {
      const x = live("x", [batch, 5]);
      const nodes = [makeNode("CumSum", ["c", "axis"], ["s"], "cumsum", { reverse: 1 }), makeNode("Add", ["x", "s"], ["y"], "add")];
      await compareAll(chainOf(nodes, [x, constF("c", [5]), int64("axis", [0], [])], ["y"], 14), [x]);
    });
  }
});

describe("ArgMax and ArgMin against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`along each axis, keepdims on and off, first or last of ties, batch ${batch}`, async () => {
      // Values on a coarse grid, so that rows hold ties.
      const dims = [batch, int(2, 6), int(2, 9)];
      const x: Input = { name: "x", dims, data: rand(dims.reduce((p, d) => p * d, 1)).map((v) => Math.round(v * 3)) };
      for (const op of ["ArgMax", "ArgMin"]) {
        for (const axis of [0, 1, 2, -1]) {
          for (const keepdims of [1, 0]) {
            for (const last of [0, 1]) {
              const nodes = [makeNode(op, ["x"], ["i"], "arg", { axis, keepdims, select_last_index: last }), makeNode("Cast", ["i"], ["y"], "to-float", { to: 1 })];
              await compareAll(chainOf(nodes, [x], ["y"], 13), [x]);
            }
          }
        }
      }
    });

    it(`an ArgMax of a constant folds, batch ${batch}`, async () => {
      const x = live("x", [batch, 4]);
      const nodes = [makeNode("ArgMax", ["c"], ["i"], "arg", { axis: 0, keepdims: 0 }), makeNode("Cast", ["i"], ["f"], "to-float", { to: 1 }), makeNode("Add", ["x", "f"], ["y"], "add")];
      await compareAll(chainOf(nodes, [x, constF("c", [3, 4])], ["y"], 13), [x]);
    });
  }
});
