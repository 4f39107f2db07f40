// Binary ops and Where with numpy broadcasting against onnxruntime-node at seeded random shapes, batch 1 and 3:
// arithmetic on run-time and constant operands (same shape, trailing, middle, scalar, per NCHW plane), comparisons and logic inside a
// graph ending in Where (their bool outputs are not float), integer constants folded as integers, and Sum and Mean of
// one to three operands.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compare, graphOf, inputMaker, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, floats, int64, liveOf } from "@test/support/op-chains";

const { int, rand, live, constF } = inputMaker(20261203);
const batches = [1, 3];

/** The second operand in each broadcasting form against [batch, C, 5]. */
function others(batch: number, C: number): Input[] {
  return [live("b", [batch, C, 5]), constF("b", [5]), constF("b", [C, 1]), constF("b", [1]), live("b", [1, C, 1]), constF("b", [])];
}

const positive = (i: Input): Input => ("data" in i ? { ...i, data: i.data.map((v) => Math.abs(v) + 0.5) } : i);

describe("binary ops against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`Sub, Div, Max and Min with each broadcasting form, batch ${batch}`, async () => {
      for (const op of ["Sub", "Div", "Max", "Min", "Add", "Mul"]) {
        const C = int(1, 9);
        for (const other of others(batch, C)) {
          const ins = [live("a", [batch, C, 5]), other];
          await compare(graphOf(op, ins, {}, 3), ins);
          const swapped = [other, live("a", [batch, C, 5])];
          await compare(graphOf(op, swapped, {}, 3), swapped);
        }
      }
    });

    it(`Add, Sub, Mul and Div with the Relu or Clip after them fused (a residual block's tail), same shape and broadcast, batch ${batch}`, async () => {
      const C = int(2, 9);
      for (const op of ["Add", "Sub", "Mul", "Div"]) {
        for (const other of [live("b", [batch, C, 7]), constF("b", [C, 1])]) {
          const ins = [live("a", [batch, C, 7]), other];
          await compareAll(chainOf([makeNode(op, ["a", "b"], ["s"], "op"), makeNode("Relu", ["s"], ["y"], "relu")], ins), ins);
          await compareAll(chainOf([makeNode(op, ["a", "b"], ["s"], "op"), makeNode("Clip", ["s", "lo", "hi"], ["y"], "clip")], [...ins, floats("lo", [-0.25], []), floats("hi", [0.5], [])]), ins);
          // The sum also read elsewhere (a graph output): the Relu stays its own step.
          await compareAll(chainOf([makeNode(op, ["a", "b"], ["s"], "op"), makeNode("Relu", ["s"], ["y"], "relu")], ins, ["y", "s"]), ins);
        }
      }
    });

    it(`Mul and Add by a value per NCHW plane (a squeeze-and-excitation gate, a constant per channel, a scalar), either order, Relu fused or not, batch ${batch}`, async () => {
      const [C, H, W] = [int(2, 9), int(3, 9), int(3, 9)];
      const gates = [live("b", [batch, C, 1, 1]), constF("b", [C, 1, 1]), constF("b", [1, C, 1, 1]), constF("b", []), live("b", [1, 1, H, W])];
      for (const op of ["Mul", "Add"]) {
        for (const gate of gates) {
          const ins = [live("a", [batch, C, H, W]), gate];
          await compare(graphOf(op, ins, {}, 4), ins);
          const swapped = [gate, live("a", [batch, C, H, W])];
          await compare(graphOf(op, swapped, {}, 4), swapped);
          await compareAll(chainOf([makeNode(op, ["a", "b"], ["s"], "op"), makeNode("Relu", ["s"], ["y"], "relu")], ins), ins);
        }
      }
    });

    it(`Pow of positive bases by float and integer exponents, batch ${batch}`, async () => {
      const C = int(1, 7);
      const a = positive(live("a", [batch, C, 5]));
      for (const b of [live("b", [batch, C, 5]), floats("b", [2], []), floats("b", [0.5, 3, -1, 2, 1.5])]) {
        await compare(graphOf("Pow", [a, b], {}, 3), [a, b]);
      }
    });

    it(`Max and Min of one and of three operands, batch ${batch}`, async () => {
      const C = int(2, 6);
      const ins = [live("a", [batch, C, 4]), live("b", [1, C, 1]), constF("c", [4])];
      for (const op of ["Max", "Min"]) {
        await compare(graphOf(op, ins, {}, 3), ins);
        await compare(graphOf(op, ins.slice(0, 1), {}, 3), ins.slice(0, 1));
      }
    });

    it(`comparisons selecting through Where, batch ${batch}`, async () => {
      const C = int(1, 8);
      // Ties included: b shares some of a's values, so Equal and the OrEqual forms are tested on both sides.
      const a = liveOf("a", Array.from(rand(batch * C * 6), (v) => Math.round(v * 3)), [batch, C, 6]);
      for (const b of [liveOf("b", Array.from(rand(batch * C * 6), (v) => Math.round(v * 3)), [batch, C, 6]), floats("b", [0, 1, -1, 2, 0, 1]), floats("b", [1], [])]) {
        for (const op of ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"]) {
          const nodes = [makeNode(op, ["a", "b"], ["m"], "cmp"), makeNode("Where", ["m", "a", "ten"], ["y"], "where")];
          await compareAll(chainOf(nodes, [a, b, floats("ten", [10], [])], ["y"], 16), [a, b].filter((i) => "data" in i));
        }
      }
    });

    it(`And, Or and Where with a broadcast condition, batch ${batch}`, async () => {
      const C = int(1, 8);
      const a = live("a", [batch, C, 5]);
      const b = live("b", [batch, 1, 5]);
      for (const op of ["And", "Or"]) {
        const nodes = [
          makeNode("Greater", ["a", "zero"], ["p"], "p"),
          makeNode("Less", ["b", "zero"], ["q"], "q"),
          makeNode(op, ["p", "q"], ["m"], "logic"),
          makeNode("Where", ["m", "a", "b"], ["y"], "where"),
        ];
        await compareAll(chainOf(nodes, [a, b, floats("zero", [0], [])]), [a, b]);
      }
      // Where with a condition of [C, 1] and a constant y.
      const nodes = [makeNode("Greater", ["c", "zero"], ["m"], "gt"), makeNode("Where", ["m", "a", "k"], ["y"], "where")];
      await compareAll(chainOf(nodes, [a, constF("c", [C, 1]), constF("k", [5]), floats("zero", [0], [])]), [a]);
    });

    it(`integer constants fold as integers (Div truncates), batch ${batch}`, async () => {
      const x = live("x", [batch, 6]);
      for (const op of ["Div", "Sub", "Mul", "Pow", "Max", "Min", "Add"]) {
        const p = int64("p", [-7, 7, -9, 9, 5, -1]);
        const q = int64("q", op === "Pow" ? [2, 3, 1, 0, 2, 3] : [2, -2, 4, 4, -3, 3]);
        const nodes = [makeNode(op, ["p", "q"], ["r"], "op"), makeNode("Cast", ["r"], ["f"], "cast", { to: 1 }), makeNode("Add", ["x", "f"], ["y"], "add")];
        await compareAll(chainOf(nodes, [x, p, q]), [x]);
      }
    });

    it(`Equal -> Where on int64 constants folds a torch expand target (x.expand(-1, 4, C)), batch ${batch}`, async () => {
      const C = int(2, 6);
      const x = live("x", [batch, 1, C]);
      const nodes = [
        makeNode("ConstantOfShape", ["n"], ["ones"], "ones", { value: makeTensor("v", DT.INT64, [1], Int32Array.of(1, 0)) }),
        makeNode("Mul", ["ones", "m1"], ["neg"], "neg"),
        makeNode("Equal", ["s", "neg"], ["eq"], "eq"),
        makeNode("Where", ["eq", "ones", "s"], ["t"], "where"),
        makeNode("Expand", ["x", "t"], ["y"], "expand"),
      ];
      await compareAll(chainOf(nodes, [x, int64("n", [3]), int64("m1", [-1], []), int64("s", [-1, 4, C])]), [x]);
    });

    it(`Div of run-time integers beside an integer constant truncates, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 9)]);
      const nodes = [
        makeNode("Mul", ["x", "ten"], ["s"], "scale"),
        makeNode("Cast", ["s"], ["i"], "to-int", { to: 7 }),
        makeNode("Div", ["i", "three"], ["d"], "div"),
        makeNode("Cast", ["d"], ["y"], "to-float", { to: 1 }),
      ];
      await compareAll(chainOf(nodes, [x, floats("ten", [10], []), int64("three", [3], [])]), [x]);
    });
  }
});

describe("Sum and Mean of one or more operands against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`one, two and three operands with broadcasting, run-time and constant, batch ${batch}`, async () => {
      const [c, n] = [int(2, 6), int(2, 9)];
      const x = live("x", [batch, c, n]);
      const z = live("z", [1, c, n]);
      for (const op of ["Sum", "Mean"]) {
        await compare(graphOf(op, [x], {}, 3), [x]);
        await compare(graphOf(op, [x, z], {}, 3), [x, z]);
        await compare(graphOf(op, [x, constF("b", [n]), z], {}, 3), [x, z]);
        const nodes = [makeNode(op, ["p", "q", "r"], ["s"], "fold"), makeNode("Add", ["x", "s"], ["out"], "add")];
        await compareAll(chainOf(nodes, [x, constF("p", [n]), constF("q", [c, 1]), constF("r", [1])], ["out"]), [x]);
      }
    });
  }
});
