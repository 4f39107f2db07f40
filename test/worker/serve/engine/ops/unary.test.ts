// Unary ops against onnxruntime-node at seeded random shapes, batch 1 and 3: each on a run-time input over the range
// where it is defined (Sigmoid and Swish into their saturated tails, Softplus past exp's overflow, Round on halves),
// folded on a constant (then added to a live input), activations with their attributes, PRelu's slopes, and Not,
// IsNaN and IsInf inside graphs ending in Where.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { compare, graphOf, inputMaker, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, floats } from "@test/support/op-chains";

const { int, rand, live } = inputMaker(20261202);
const batches = [1, 3];

/** A live input of the given dims with values from `values(u)` for uniform u in [-1, 1]. */
function shaped(name: string, dims: number[], values: (u: number) => number): Input {
  return { name, dims, data: rand(dims.reduce((p, d) => p * d, 1)).map(values) };
}

const RANGES: Record<string, (u: number) => number> = {
  HardSigmoid: (u) => u * 6,
  HardSwish: (u) => u * 5,
  Sigmoid: (u) => u * 12,
  Sqrt: (u) => Math.abs(u) * 9,
  Exp: (u) => u * 4,
  Log: (u) => Math.abs(u) * 20 + 1e-3,
  Neg: (u) => u * 3,
  Abs: (u) => u * 3,
  Erf: (u) => u * 4.5,
  Reciprocal: (u) => (u < 0 ? u - 0.1 : u + 0.1),
  Floor: (u) => u * 7.3,
  Ceil: (u) => u * 7.3,
  LeakyRelu: (u) => u * 5,
  Elu: (u) => u * 5,
  Selu: (u) => u * 5,
  Celu: (u) => u * 5,
  ThresholdedRelu: (u) => u * 3,
  Softplus: (u) => u * 40, // past exp's overflow both ways
  Softsign: (u) => u * 9,
  Sin: (u) => u * 10,
  Cos: (u) => u * 10,
  Sign: (u) => Math.round(u * 3) * 0.5, // zeros included
  Round: (u) => Math.round(u * 14) / 4, // halves included: to even
};

describe("unary ops against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`each unary op on a run-time input of random odd dims, batch ${batch}`, async () => {
      for (const [op, range] of Object.entries(RANGES)) {
        const x = shaped("x", [batch, int(1, 9), int(1, 13)], range);
        await compare(graphOf(op, [x], {}, 3, 14), [x]); // HardSwish is from opset 14
      }
    });

    it(`HardSigmoid with alpha and beta attributes, batch ${batch}`, async () => {
      const x = shaped("x", [batch, int(2, 7), 5], (u) => u * 8);
      await compare(graphOf("HardSigmoid", [x], { alpha: 0.3, beta: 0.4 }, 3), [x]);
      await compare(graphOf("HardSigmoid", [x], { alpha: { float: 1 }, beta: { float: 0 } }, 3), [x]);
    });

    it(`activations with their alpha (and Selu's gamma) attributes; Mish (opset 18), batch ${batch}`, async () => {
      const x = shaped("x", [batch, int(2, 7), int(1, 11)], (u) => u * 6);
      for (const [op, attrs] of [
        ["LeakyRelu", { alpha: 0.2 }],
        ["Elu", { alpha: 0.5 }],
        ["Selu", { alpha: 1.5, gamma: { float: 2 } }],
        ["Celu", { alpha: { float: 2 } }],
        ["ThresholdedRelu", { alpha: 0.5 }],
      ] as const) {
        await compare(graphOf(op, [x], attrs, 3, 14), [x]);
      }
      await compare(graphOf("Mish", [x], {}, 3, 18), [x]);
    });

    it(`PRelu with a slope per channel, one slope, and a live slope, batch ${batch}`, async () => {
      const C = int(2, 6);
      const x = shaped("x", [batch, C, int(1, 7), int(1, 9)], (u) => u * 4);
      await compare(graphOf("PRelu", [x, floats("slope", Array.from(rand(C)), [C, 1, 1])], {}, 4), [x]);
      await compare(graphOf("PRelu", [x, floats("slope", [0.25], [1])], {}, 4), [x]);
      const slope = live("slope", [C, 1, 1]);
      await compare(graphOf("PRelu", [x, slope], {}, 4), [x, slope]);
      // A slope per feature over [N, L, C] (a transformer's or an MLP's PRelu).
      const t = shaped("x", [batch, int(1, 5), C], (u) => u * 4);
      await compare(graphOf("PRelu", [t, floats("slope", Array.from(rand(C)), [C])], {}, 3), [t]);
    });

    it(`Swish (opset 24) with its default alpha and another, over sigmoid's saturated tails, batch ${batch}`, async () => {
      const x = shaped("x", [batch, int(2, 7), int(1, 11)], (u) => u * 40);
      await compare(graphOf("Swish", [x], {}, 3, 24), [x]);
      await compare(graphOf("Swish", [x], { alpha: { float: 0.35 } }, 3, 24), [x]);
    });

    it(`Sigmoid far into its tails (0 and 1 exactly, never NaN), batch ${batch}`, async () => {
      const x: Input = { name: "x", dims: [batch, 7], data: Float32Array.from({ length: batch * 7 }, (_, i) => [-120, -88, -30, -1e-7, 17, 89, 150][i % 7]!) };
      await compare(graphOf("Sigmoid", [x], {}, 2), [x]);
    });

    it(`Erf near zero and in the tails (GELU's range), batch ${batch}`, async () => {
      const x: Input = { name: "x", dims: [batch, 9], data: Float32Array.from({ length: batch * 9 }, (_, i) => [-6, -3.2, -1e-4, 1e-6, 0.49, 0.51, 2.2, 3.9, 4.2][i % 9]!) };
      await compare(graphOf("Erf", [x], {}, 2), [x]);
    });

    it(`unary ops fold on a constant, batch ${batch}`, async () => {
      for (const [op, range] of Object.entries(RANGES)) {
        const c = floats("c", Array.from(rand(7), range), [7]);
        const x = live("x", [batch, 7]);
        const nodes = [makeNode(op, ["c"], ["u"], "u"), makeNode("Add", ["x", "u"], ["y"], "add")];
        await compareAll(chainOf(nodes, [x, c], ["y"], 14), [x]);
      }
    });

    it(`Cast at run time to int64 (toward zero), to bool and back to float, batch ${batch}`, async () => {
      const x = shaped("x", [batch, int(1, 8), 5], (u) => Math.round(u * 4) * 0.75);
      const toInt = [makeNode("Cast", ["x"], ["i"], "to-int", { to: 7 }), makeNode("Cast", ["i"], ["y"], "to-float", { to: 1 })];
      await compareAll(chainOf(toInt, [x]), [x]);
      const toBool = [makeNode("Cast", ["x"], ["b"], "to-bool", { to: 9 }), makeNode("Where", ["b", "x", "ten"], ["y"], "where")];
      await compareAll(chainOf(toBool, [x, floats("ten", [10], [])]), [x]);
    });

    it(`IsNaN and IsInf (each sign, both) selecting through Where, batch ${batch}`, async () => {
      const x: Input = { name: "x", dims: [batch, 6], data: Float32Array.from({ length: batch * 6 }, (_, i) => [1, NaN, Infinity, -Infinity, -2, 0][i % 6]!) };
      for (const [op, attrs] of [["IsNaN", {}], ["IsInf", {}], ["IsInf", { detect_negative: 0 }], ["IsInf", { detect_positive: 0 }]] as const) {
        const nodes = [makeNode(op, ["x"], ["m"], "test", attrs), makeNode("Where", ["m", "ten", "zero"], ["y"], "where")];
        await compareAll(chainOf(nodes, [x, floats("ten", [10], []), floats("zero", [0], [])], ["y"], 13), [x]);
      }
    });

    it(`Not of a comparison, selecting through Where, batch ${batch}`, async () => {
      const x = live("x", [batch, int(1, 8), 6]);
      const nodes = [
        makeNode("Greater", ["x", "zero"], ["pos"], "gt"),
        makeNode("Not", ["pos"], ["neg"], "not"),
        makeNode("Where", ["neg", "x", "ten"], ["y"], "where"),
      ];
      await compareAll(chainOf(nodes, [x, floats("zero", [0], []), floats("ten", [10], [])]), [x]);
    });
  }
});
