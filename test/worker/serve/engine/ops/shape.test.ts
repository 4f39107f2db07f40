// Shape and reshaping ops against onnxruntime-node at seeded random shapes, batch 1 and 3. Ops whose ONNX output is
// int64 (Shape, Size, Range on integers, ConstantOfShape of int64) are checked inside graphs ending in a float output; run-time
// integer tensors (Gather indices) come from a float input through Cast, as they travel through the engine.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { makeTensor } from "@worker/onnx/tensor";
import { DT } from "@worker/onnx/dtype";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { chainOf, compareAll, floats, int64, INT64_MAX, INT64_MIN, liveOf } from "@test/support/op-chains";

const { int, live, constF } = inputMaker(20261204);
const batches = [1, 3];

describe("shape ops against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`Shape -> Reshape, with start and end (opset 15), batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 5), int(2, 7)]);
      const z = live("z", [batch, x.dims[1]! * x.dims[2]!]);
      // y = Reshape(z, Shape(x)): z flattened to x's dims.
      await compareAll(chainOf([makeNode("Shape", ["x"], ["s"], "shape"), makeNode("Reshape", ["z", "s"], ["y"], "reshape")], [x, z]), [x, z]);
      // Shape(x, start=1) -> Concat([-1], ...) -> Reshape.
      const nodes = [
        makeNode("Shape", ["x"], ["s"], "shape", { start: 1 }),
        makeNode("Concat", ["m1", "s"], ["t"], "concat", { axis: 0 }),
        makeNode("Reshape", ["z", "t"], ["y"], "reshape"),
      ];
      await compareAll(chainOf(nodes, [x, z, int64("m1", [-1])], ["y"], 15), [x, z]);
      const ends = [makeNode("Shape", ["x"], ["s"], "shape", { start: -3, end: -1 }), makeNode("ConstantOfShape", ["s"], ["c"], "fill", { value: makeTensor("v", DT.FLOAT, [1], Float32Array.of(2.5)) }), makeNode("Mul", ["c", "w"], ["y"], "mul")];
      const w = live("w", [1, x.dims[1]!]);
      await compareAll(chainOf(ends, [x, w], ["y"], 15), [x, w]);
    });

    it(`Shape -> Gather -> Unsqueeze -> Concat -> Reshape computes a reshape target from a run-time input, batch ${batch}`, async () => {
      // As torch exporters write x.view(x.size(0), -1) and x.view(b, c, h * w) for an input of [batch, C, H, W].
      const x = live("x", [batch, int(1, 5), int(2, 6), int(1, 7)]);
      for (const opset of [11, 13]) {
        const unsq = (name: string, out: string) =>
          opset < 13 ? makeNode("Unsqueeze", [name], [out], `u-${out}`, { axes: [0] }) : makeNode("Unsqueeze", [name, "zero"], [out], `u-${out}`);
        const nodes = [
          makeNode("Shape", ["x"], ["s"], "shape"),
          makeNode("Gather", ["s", "i0"], ["b"], "g0", { axis: 0 }),
          makeNode("Gather", ["s", "i1"], ["c"], "g1", { axis: 0 }),
          makeNode("Gather", ["s", "i2"], ["h"], "g2", { axis: 0 }),
          makeNode("Gather", ["s", "im1"], ["w"], "g3", { axis: 0 }),
          makeNode("Mul", ["h", "w"], ["hw"], "hw"),
          unsq("b", "ub"),
          unsq("c", "uc"),
          unsq("hw", "uhw"),
          makeNode("Concat", ["ub", "uc", "uhw"], ["t"], "concat", { axis: 0 }),
          makeNode("Reshape", ["x", "t"], ["r"], "reshape"),
          makeNode("Relu", ["r"], ["y"], "relu"),
        ];
        const consts = [int64("i0", [0], []), int64("i1", [1], []), int64("i2", [2], []), int64("im1", [-1], []), int64("zero", [0])];
        await compareAll(chainOf(nodes, [x, ...consts], ["y"], opset), [x]);
      }
    });

    it(`Gather on a run-time input along each axis, with constant indices (negative, scalar, 2-D), batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 6), int(3, 7)]);
      for (const axis of [0, 1, 2, -1]) {
        const size = x.dims[(axis + 3) % 3]!;
        for (const idx of [int64("i", [size - 1, -1, 0]), int64("i", [-size], []), int64("i", [0, size - 1, -size, -1], [2, 2])]) {
          const ins = [x, idx];
          await compare(graphOf("Gather", ins, { axis }, 3 + idx.dims.length - 1), ins);
        }
      }
    });

    it(`Gather of a constant table by run-time indices (float input through Cast), batch ${batch}`, async () => {
      const V = int(3, 11);
      const D = int(1, 9);
      const ids = liveOf("ids", Array.from({ length: batch * 4 }, () => int(-V, V - 1)), [batch, 4]);
      const table = constF("table", [V, D]);
      const nodes = [makeNode("Cast", ["ids"], ["i"], "cast", { to: 7 }), makeNode("Gather", ["table", "i"], ["y"], "gather")];
      await compareAll(chainOf(nodes, [ids, table]), [ids]);
      // Run-time data too: a live [batch, V] row gathered along axis 1.
      const rows = live("rows", [batch, V]);
      const both = [makeNode("Cast", ["ids"], ["i"], "cast", { to: 7 }), makeNode("Gather", ["rows", "i"], ["y"], "gather", { axis: 1 })];
      await compareAll(chainOf(both, [ids, rows]), [ids, rows]);
    });

    it(`Gather of int64 constants folds and keeps them int64, batch ${batch}`, async () => {
      const x = live("x", [batch, 12]);
      const nodes = [makeNode("Gather", ["s", "i"], ["t"], "gather"), makeNode("Reshape", ["x", "t"], ["y"], "reshape")];
      await compareAll(chainOf(nodes, [x, int64("s", [4, -1, batch, 3]), int64("i", [2, 0, -3])]), [x]);
    });

    it(`Unsqueeze and Squeeze with axes as attributes (opset 11) and inputs (opset 13), batch ${batch}`, async () => {
      const x = live("x", [batch, 1, int(2, 5), 1]);
      for (const axes of [[0], [-1], [1, 3], [0, 2, -1]]) {
        await compare(graphOf("Unsqueeze", [x], { axes }, 4 + axes.length, 11), [x]);
        const ins = [x, int64("a", axes)];
        await compare(graphOf("Unsqueeze", ins, {}, 4 + axes.length, 13), ins);
      }
      for (const axes of [[1], [-1], [1, 3]]) {
        await compare(graphOf("Squeeze", [x], { axes }, 4 - axes.length, 11), [x]);
        const ins = [x, int64("a", axes)];
        await compare(graphOf("Squeeze", ins, {}, 4 - axes.length, 13), ins);
      }
      await compare(graphOf("Squeeze", [x], {}, batch === 1 ? 1 : 2, 13), [x]);
    });

    it(`Slice with axes, steps, negative steps, clamping and INT64_MAX ends, batch ${batch}`, async () => {
      const x = live("x", [batch, int(3, 7), int(4, 9)]);
      const cases: [bigint[] | number[], (bigint | number)[], number[] | null, number[] | null][] = [
        [[0, 1], [INT64_MAX, -1], [1, 2], null],
        [[1], [1000], [-1], [2]],
        [[-1, -2], [INT64_MIN, -100], [1, 2], [-1, -2]],
        [[-100], [100], [1], null],
        [[2, 0], [0, 3], [2, 1], [-1, 1]],
        [[5], [1], [1], [1]],
        [[0, 0, 0], [batch, 2, 3], null, null],
      ];
      for (const [starts, ends, axes, steps] of cases) {
        const ins = [x, int64("s", starts), int64("e", ends)];
        if (axes) ins.push(int64("a", axes));
        if (steps) ins.push(int64("p", steps));
        const model = steps && !axes ? graphOf("Slice", [...ins, int64("a", [1, 2].slice(0, starts.length)), int64("p", steps)], {}, 3) : graphOf("Slice", ins, {}, 3);
        await compare(model, ins.concat(steps && !axes ? [int64("a", [1, 2].slice(0, starts.length)), int64("p", steps)] : []));
      }
      await compare(graphOf("Slice", [x], { starts: [1, -3], ends: [3, 1000], axes: [1, 2] }, 3, 9), [x]);
      await compare(graphOf("Slice", [x], { starts: [0], ends: [1] }, 3, 9), [x]);
    });

    it(`Slice and Split of NCHW channels (whole planes, copied as blocks), and of planes' rows and columns, batch ${batch}`, async () => {
      const x = live("x", [batch, 2 * int(2, 6), int(2, 8), int(3, 9)]);
      const C = x.dims[1]!;
      for (const [starts, ends, axes] of [[[0], [C / 2], [1]], [[1], [C], [1]], [[1, 1], [C - 1, 2], [1, 2]], [[0, 1], [C, 3], [1, 3]]] as const) {
        const ins = [x, int64("s", [...starts]), int64("e", [...ends]), int64("a", [...axes])];
        await compare(graphOf("Slice", ins, {}, 4), ins);
      }
      await compareAll(chainOf([makeNode("Split", ["x"], ["y", "y1"], "split", { axis: 1 })], [x], ["y", "y1"], 13), [x]);
    });

    it(`Slice of int64 constants folds (a shape's tail) into a Reshape target, batch ${batch}`, async () => {
      const x = live("x", [batch, 6, 2]);
      const nodes = [makeNode("Slice", ["s", "st", "en"], ["t"], "slice"), makeNode("Reshape", ["x", "t"], ["y"], "reshape")];
      await compareAll(chainOf(nodes, [x, int64("s", [7, batch, 3, 4]), int64("st", [1]), int64("en", [INT64_MAX])]), [x]);
    });

    it(`Split by attribute (opset 11), by input (opset 13), equally and by num_outputs (opset 18), batch ${batch}`, async () => {
      const x = live("x", [batch, 7, int(2, 5)]);
      const outs = ["y", "y1", "y2"];
      await compareAll(chainOf([makeNode("Split", ["x"], outs, "split", { axis: 1, split: [2, 4, 1] })], [x], outs, 11), [x]);
      await compareAll(chainOf([makeNode("Split", ["x", "s"], outs, "split", { axis: -2 })], [x, int64("s", [3, 0, 4])], outs, 13), [x]);
      const even = live("x", [2 * batch, 5]);
      await compareAll(chainOf([makeNode("Split", ["x"], ["y", "y1"], "split", { axis: 0 })], [even], ["y", "y1"], 13), [even]);
      await compareAll(chainOf([makeNode("Split", ["x"], outs, "split", { axis: 1, num_outputs: 3 })], [x], outs, 18), [x]);
      const c = constF("c", [6, 2]);
      const w = live("w", [3, 2]);
      const folded = [makeNode("Split", ["c"], ["a", "b"], "split"), makeNode("Add", ["a", "w"], ["p"], "p"), makeNode("Mul", ["p", "b"], ["y"], "y")];
      await compareAll(chainOf(folded, [c, w]), [w]);
    });

    it(`Concat of int64 constants folds into a Reshape target, batch ${batch}`, async () => {
      const x = live("x", [batch, 4, 3]);
      const nodes = [makeNode("Concat", ["a", "b"], ["t"], "concat", { axis: 0 }), makeNode("Reshape", ["x", "t"], ["y"], "reshape")];
      await compareAll(chainOf(nodes, [x, int64("a", [batch]), int64("b", [-1, 2])]), [x]);
    });

    it(`Range of integers and floats, folded and at run time, batch ${batch}`, async () => {
      const x = live("x", [batch, 4]);
      const ints = [makeNode("Range", ["a", "b", "c"], ["r"], "range"), makeNode("Cast", ["r"], ["f"], "cast", { to: 1 }), makeNode("Add", ["x", "f"], ["y"], "add")];
      await compareAll(chainOf(ints, [x, int64("a", [10], []), int64("b", [-2], []), int64("c", [-3], [])]), [x]);
      const fl = [makeNode("Range", ["a", "b", "c"], ["r"], "range"), makeNode("Add", ["x", "r"], ["y"], "add")];
      await compareAll(chainOf(fl, [x, floats("a", [0.5], []), floats("b", [2.1], []), floats("c", [0.4], [])]), [x]);
      const start = liveOf("start", [batch - 0.5], []);
      await compareAll(chainOf([makeNode("Range", ["start", "b", "c"], ["y"], "range")], [start, floats("b", [7.25], []), floats("c", [1.5], [])]), [start]);
    });

    it(`Expand to larger and broadcast shapes, folded and at run time, batch ${batch}`, async () => {
      const C = int(2, 6);
      const x = live("x", [batch, 1, C]);
      for (const shape of [[batch, 4, C], [2, 1, 3, 1, 1], [1, 1]]) {
        const ins = [x, int64("s", shape)];
        await compare(graphOf("Expand", ins, {}, Math.max(shape.length, 3)), ins);
      }
      const w = live("w", [batch, 3, C]);
      const folded = [makeNode("Expand", ["c", "s"], ["e"], "expand"), makeNode("Add", ["w", "e"], ["y"], "add")];
      await compareAll(chainOf(folded, [w, constF("c", [C]), int64("s", [3, 1])]), [w]);
    });

    it(`ConstantOfShape (float and int64 values, default 0) and Tile, batch ${batch}`, async () => {
      const x = live("x", [batch, 3, 2]);
      const f = [makeNode("ConstantOfShape", ["s"], ["c"], "fill", { value: makeTensor("v", DT.FLOAT, [1], Float32Array.of(-1.5)) }), makeNode("Add", ["x", "c"], ["y"], "add")];
      await compareAll(chainOf(f, [x, int64("s", [3, 1])]), [x]);
      const i = [
        makeNode("ConstantOfShape", ["s"], ["c"], "fill", { value: makeTensor("v", DT.INT64, [1], Int32Array.of(7, 0)) }),
        makeNode("Cast", ["c"], ["f"], "cast", { to: 1 }),
        makeNode("Mul", ["x", "f"], ["y"], "mul"),
      ];
      await compareAll(chainOf(i, [x, int64("s", [2])]), [x]);
      const z = [makeNode("ConstantOfShape", ["s"], ["c"], "fill"), makeNode("Add", ["x", "c"], ["y"], "add")];
      await compareAll(chainOf(z, [x, int64("s", [batch, 1, 1])]), [x]);
      for (const repeats of [[1, 2, 3], [2, 1, 1], [1, 1, 1]]) {
        const ins = [x, int64("r", repeats)];
        await compare(graphOf("Tile", ins, {}, 3), ins);
      }
      const folded = [makeNode("Tile", ["c", "r"], ["t"], "tile"), makeNode("Add", ["x", "t"], ["y"], "add")];
      await compareAll(chainOf(folded, [x, constF("c", [1, 1, 2]), int64("r", [batch, 3, 1])]), [x]);
    });
  }
});

describe("Size against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`the element count as shape arithmetic (folded per input shape) scaling the input, batch ${batch}`, async () => {
      const x = live("x", [batch, int(1, 6), int(2, 9)]);
      const nodes = [makeNode("Size", ["x"], ["n"], "size"), makeNode("Cast", ["n"], ["f"], "to-float", { to: 1 }), makeNode("Div", ["x", "f"], ["y"], "per-element")];
      await compareAll(chainOf(nodes, [x]), [x]);
    });
  }
});
