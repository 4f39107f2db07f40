// Cast against onnxruntime-node. Run-time values are carried as float32, so a cast to an integer type must round
// toward zero and a cast to bool must give 0 or 1; each is read back through a Cast to float (the graph's output),
// batch 1 and 3, exact. Constants fold at load in their target type.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import type { PlanContext } from "@worker/serve/engine/op";
import { cast } from "@worker/serve/engine/ops/cast";
import { compare, inputMaker, type Input } from "@test/support/op-graphs";

const { int, next } = inputMaker(20261205);

/** x -> Cast(to) -> Cast(float) -> y, x of the given values. */
function roundTrip(to: number, dims: number[]): Uint8Array {
  const graph = makeGraph(
    [makeNode("Cast", ["x"], ["c"], "cast", { to }), makeNode("Cast", ["c"], ["y"], "back", { to: DT.FLOAT })],
    "cast", [makeValueInfo("x", DT.FLOAT, dims)], [makeValueInfo("y", DT.FLOAT, dims.map(() => null))],
  );
  return encodeModel(makeModel(graph));
}

describe("Cast against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`rounds toward zero to int64 and int32 and maps non-zero to 1 for bool, batch ${batch}`, async () => {
      const dims = [batch, int(3, 17)];
      const n = dims[0]! * dims[1]!;
      // Halves, negatives, integers and zeros: where truncation, rounding and flooring differ.
      const data = Float32Array.from({ length: n }, (_, i) => [0, -0, 2.5, -2.5, 7, -1.75][i % 6]! + (i % 6 > 3 ? Math.round((next() * 2 - 1) * 40) : 0));
      const x: Input = { name: "x", dims, data };
      for (const to of [DT.INT64, DT.INT32, DT.BOOL, DT.FLOAT, DT.DOUBLE]) await compare(roundTrip(to, dims), [x], 1e-12);
    });
  }

  it("folds constants into their target type, int64 exactly", () => {
    const fold = (c: object, to: number) => {
      const planned = cast.plan({ node: makeNode("Cast", ["c"], ["y"], "c", { to }), opset: 13, constant: () => c } as unknown as PlanContext);
      return planned.kind === "constant" ? planned.outputs[0] : null;
    };
    const big = { dims: [2], dtype: DT.INT64, data: BigInt64Array.of(2n ** 60n + 1n, -3n) };
    expect(fold(big, DT.INT64)?.data).toEqual(BigInt64Array.of(2n ** 60n + 1n, -3n));
    expect(fold(big, DT.BOOL)).toEqual({ dims: [2], dtype: DT.BOOL, data: Uint8Array.of(1, 1) });
    const floats = { dims: [3], dtype: DT.FLOAT, data: Float32Array.of(-2.5, 0, 3.75) };
    expect(fold(floats, DT.INT64)).toEqual({ dims: [3], dtype: DT.INT64, data: BigInt64Array.of(-2n, 0n, 3n) });
    expect(fold(floats, DT.INT32)).toEqual({ dims: [3], dtype: DT.INT32, data: Int32Array.of(-2, 0, 3) });
    expect(fold(floats, DT.BOOL)).toEqual({ dims: [3], dtype: DT.BOOL, data: Uint8Array.of(1, 0, 1) });
  });
});
