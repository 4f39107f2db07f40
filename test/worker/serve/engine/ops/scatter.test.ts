// ScatterND, Mod and Dropout as torch writes them in Swin (slice assignment building the shifted-window mask, window
// padding arithmetic, attention dropout exported with training_mode true and ratio 0), against onnxruntime-node at
// batch 1 and 3: run-time and folded, each reduction, negative indices, both Mod signs.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { inputMaker } from "@test/support/op-graphs";
import { chainOf, compareAll, floats, int64, liveOf } from "@test/support/op-chains";

const { rand, live, constF } = inputMaker(20261204);
const batches = [1, 3];

describe("ScatterND, Mod and Dropout against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`ScatterND of run-time updates into run-time data at constant indices (whole rows, single elements, negative), batch ${batch}`, async () => {
      const x = live("x", [batch, 5, 6]);
      const rows = live("u", [2, 6]);
      await compareAll(chainOf([makeNode("ScatterND", ["x", "i", "u"], ["y"], "scatter")], [x, int64("i", [0, 4, batch - 1, 1], [2, 2]), rows], ["y"], 13), [x, rows]);
      const points = live("u", [3]);
      await compareAll(chainOf([makeNode("ScatterND", ["x", "i", "u"], ["y"], "scatter")], [x, int64("i", [0, 0, 0, batch - 1, 4, 5, 0, -1, -2], [3, 3]), points], ["y"], 13), [x, points]);
    });

    it(`ScatterND reductions (opset 18) with repeated indices, batch ${batch}`, async () => {
      const x = live("x", [batch, 4, 3]);
      const u = live("u", [3, 3]);
      for (const reduction of ["add", "mul", "max", "min"]) {
        const nodes = [makeNode("ScatterND", ["x", "i", "u"], ["y"], "scatter", { reduction })];
        await compareAll(chainOf(nodes, [x, int64("i", [0, 2, 0, 2, 0, 1], [3, 2]), u], ["y"], 18), [x, u]);
      }
    });

    it(`ScatterND of constants folds (a mask built by slice assignment), then meets a run-time input, batch ${batch}`, async () => {
      const x = live("x", [batch, 4, 4]);
      const nodes = [makeNode("ScatterND", ["m", "i", "v"], ["mask"], "scatter"), makeNode("Add", ["x", "mask"], ["y"], "add")];
      await compareAll(chainOf(nodes, [x, constF("m", [4, 4]), int64("i", [1, 3], [2, 1]), floats("v", Array.from(rand(8), (r) => r * 100), [2, 4])]), [x]);
    });

    it(`Mod: floats with fmod 1 (the dividend's sign) and integers with fmod 0 (the divisor's), batch ${batch}`, async () => {
      const x = liveOf("x", Array.from(rand(batch * 8), (r) => r * 9), [batch, 8]);
      const divisors = floats("d", [2.5, -2.5, 3, -3, 1.5, -1.5, 4, 7]);
      await compareAll(chainOf([makeNode("Mod", ["x", "d"], ["y"], "mod", { fmod: 1 })], [x, divisors]), [x]);
      const ints = [
        makeNode("Cast", ["x"], ["xi"], "to-int", { to: 7 }),
        makeNode("Mod", ["xi", "k"], ["m"], "mod"),
        makeNode("Cast", ["m"], ["y"], "to-float", { to: 1 }),
      ];
      await compareAll(chainOf(ints, [x, int64("k", [3, -3, 4, -4, 5, -5, 2, -2])]), [x]);
    });

    it(`Dropout in training mode at ratio 0, and with its mask read, is the identity, batch ${batch}`, async () => {
      const x = live("x", [batch, 7]);
      const training = [makeNode("Dropout", ["x", "r", "t"], ["y"], "dropout")];
      const flags = [x, floats("r", [0], []), { name: "t", dims: [], constant: makeTensor("t", DT.BOOL, [], Uint8Array.of(1)) }];
      await compareAll(chainOf(training, flags, ["y"], 13), [x]);
      const masked = [
        makeNode("Dropout", ["x"], ["d", "mask"], "dropout"),
        makeNode("Cast", ["mask"], ["mf"], "cast", { to: 1 }),
        makeNode("Add", ["d", "mf"], ["y"], "add"),
      ];
      await compareAll(chainOf(masked, [x], ["y"], 13), [x]);
    });
  }
});
