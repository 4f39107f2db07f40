// Trilu against onnxruntime-node (opset 14): upper and lower triangles of the last two axes at every diagonal k
// (absent, negative, past the edge), on run-time inputs of rank 2 to 4 at odd sizes and batch 1 and 3; and a causal
// mask as torch writes it (Trilu of a constant, added to the scores), which folds at plan time.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel, decodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compare, graphOf, inputMaker, type Input } from "@test/support/op-graphs";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";

const { int, live, rand } = inputMaker(20261205);
const scalarK = (k: number): Input => ({ name: "k", dims: [], constant: makeTensor("k", DT.INT64, [], new BigInt64Array([BigInt(k)])) });

describe("Trilu against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`keeps the upper or lower triangle from diagonal k, batch ${batch}`, async () => {
      for (const dims of [[int(2, 9), int(2, 9)], [batch, int(2, 9), int(2, 9)], [batch, 2, int(2, 9), int(2, 9)]]) {
        const x = live("x", dims);
        for (const upper of [1, 0]) {
          await compare(graphOf("Trilu", [x], { upper }, dims.length, 14), [x]);
          for (const k of [-2, 0, 1, 3, 12]) await compare(graphOf("Trilu", [x, scalarK(k)], { upper }, dims.length, 14), [x]);
        }
      }
    });
  }

  it("folds a causal mask (Trilu of a constant, k = 1) at plan time and adds it to the scores", async () => {
    const S = 7;
    const mask = makeTensor("filled", DT.FLOAT, [S, S], rand(S * S, 50));
    const graph = makeGraph(
      [makeNode("Trilu", ["filled", "k"], ["mask"], "causal", { upper: 1 }), makeNode("Add", ["x", "mask"], ["y"], "masked")],
      "causal",
      [makeValueInfo("x", DT.FLOAT, [2, S, S])],
      [makeValueInfo("y", DT.FLOAT, [2, S, S])],
      [mask, makeTensor("k", DT.INT64, [], new BigInt64Array([1n]))],
    );
    const bytes = encodeModel(makeModel(graph, { "": 14 }));
    const x = live("x", [2, S, S]);
    await compare(bytes, [x]);
    expect(createKernelSession(decodeModel(bytes), plainKernelModule).reason).toBeNull();
  });
});
