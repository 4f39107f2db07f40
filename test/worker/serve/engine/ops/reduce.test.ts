// ReduceMean/Max/Sum/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp and GlobalMaxPool against onnxruntime-node at seeded random odd shapes, batch 1 and 3:
// axes as attribute (before opset 18; ReduceSum before 13) and as input (after), negative and non-adjacent axes,
// keepdims on and off, reduce-all, noop_with_empty_axes, and a fold on a constant.
import { describe, expect, it } from "vitest";
import { reduceKernel } from "@worker/serve/engine/ops/reduce";
import { makeNode } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { chainOf, compareAll, int64 } from "@test/support/op-chains";

const { int, live, constF } = inputMaker(20261206);
const batches = [1, 3];
const OPS = ["ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"];
const AXES = [[1], [-1], [2, 3], [1, 3], [0, 2], [-3, -2, -1]];

/** A live input, positive where the op takes logs of sums (ReduceLogSum). */
function inputFor(op: string, dims: number[]) {
  const x = live("x", dims);
  return op === "ReduceLogSum" && "data" in x ? { ...x, data: x.data.map((v) => 1.5 + v / 4) } : x;
}

describe("Reduce ops against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`each Reduce with axes as an attribute (opset 11) and as an input (opset 18), keepdims 1 and 0, batch ${batch}`, async () => {
      // Prod over many elements under- or overflows float32; its inputs stay near 1. LogSum's stay positive.
      for (const op of OPS) {
        const raw = live("x", [batch, int(1, 5), int(2, 6), int(1, 7)]);
        const shift = op === "ReduceProd" ? 1 : op === "ReduceLogSum" ? 1.5 : 0;
        const x = shift && "data" in raw ? { ...raw, data: raw.data.map((v) => shift + v / 4) } : raw;
        for (const axes of AXES) {
          for (const keepdims of [1, 0]) {
            const rank = keepdims ? 4 : 4 - axes.length;
            await compare(graphOf(op, [x], { axes, keepdims }, rank, 11), [x]);
            const ins = [x, int64("a", axes)];
            await compare(graphOf(op, ins, { keepdims }, rank, 18), ins);
          }
        }
      }
    });

    it(`ReduceSum takes axes as an input from opset 13; without axes every Reduce reduces all, batch ${batch}`, async () => {
      const dims = [batch, int(2, 5), int(2, 9)];
      const ins = [live("x", dims), int64("a", [0, -1])];
      await compare(graphOf("ReduceSum", ins, {}, 3, 13), ins);
      for (const op of OPS) {
        const x = inputFor(op, dims);
        await compare(graphOf(op, [x], {}, 3, 13), [x]);
        await compare(graphOf(op, [x], { keepdims: 0 }, 0, 18), [x]);
      }
    });

    it(`noop_with_empty_axes passes the input through when axes are empty or absent, batch ${batch}`, async () => {
      const dims = [batch, 3, int(2, 6)];
      for (const op of OPS) {
        const x = inputFor(op, dims);
        await compare(graphOf(op, [x], { noop_with_empty_axes: 1 }, 3, 18), [x]);
        const ins = [x, int64("a", [], [0])];
        await compare(graphOf(op, ins, { noop_with_empty_axes: 1 }, 3, 18), ins);
        await compare(graphOf(op, ins, { noop_with_empty_axes: 0, keepdims: 1 }, 3, 18), ins);
      }
    });

    it(`a Reduce of a constant folds (then added to a run-time input), batch ${batch}`, async () => {
      const x = live("x", [batch, 4]);
      for (const op of OPS) {
        const nodes = [makeNode(op, ["c"], ["r"], "reduce", { axes: [0], keepdims: 0 }), makeNode("Add", ["x", "r"], ["y"], "add")];
        const c = constF("c", [3, 4]);
        const positive = op === "ReduceLogSum" && "constant" in c ? { ...c, constant: makeTensor("c", DT.FLOAT, [3, 4], Float32Array.from({ length: 12 }, (_, i) => 0.5 + i / 8)) } : c;
        await compareAll(chainOf(nodes, [x, positive], ["y"], 11), [x]);
      }
    });

    it(`GlobalMaxPool over 1, 2 and 3 spatial dims, batch ${batch}`, async () => {
      for (const spatial of [[int(1, 9)], [int(2, 7), int(2, 7)], [2, int(2, 5), 3]]) {
        const x = live("x", [batch, int(1, 6), ...spatial]);
        await compare(graphOf("GlobalMaxPool", [x], {}, x.dims.length), [x]);
      }
    });
  }
});

describe("reduceKernel on a float32 source", () => {
  it("makes a Max or Min NaN where a reduced run holds a NaN, as the row kernel does", () => {
    const src = Float32Array.from([1, NaN, 3, 4, 5, 6]);
    for (const kind of ["Max", "Min"] as const) {
      const leading = Array.from(reduceKernel(kind, src, [2, 3], [0]));
      expect(leading[0]).toBe(kind === "Max" ? 4 : 1);
      expect(leading[1]).toBeNaN();
      expect(leading[2]).toBe(kind === "Max" ? 6 : 3);
    }
  });

  it("reads it in place and leaves it as it was, a Mean over no axes included", () => {
    const src = Float32Array.from([1.5, -2, 3.25, 4, 0.5, 6]);
    const before = Array.from(src);
    expect(Array.from(reduceKernel("Sum", src, [2, 3], [0, 1]))).toEqual([13.25]);
    expect(Array.from(reduceKernel("Mean", src, [2, 3], [1]))).toEqual([2.75 / 3, 10.5 / 3]);
    const noop = reduceKernel("Mean", src, [2, 3], []);
    expect(Array.from(noop)).toEqual(before);
    noop[0] = 99;
    expect(Array.from(src)).toEqual(before);
  });
});
