// Which engine serves an fp32 original: the families measured faster on the kernel engine go there, the others stay
// on onnxruntime-web.
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { fp32OnEngine } from "@worker/serve/engine-choice";
import { buildCnn, buildLstm, buildMlp } from "@test/support/models";

/** One Conv with a [M, 16, 3, 3] weight: M sets the weight bytes. */
function conv(M: number) {
  const w = makeTensor("w", DT.FLOAT, [M, 16, 3, 3], new Float32Array(M * 144));
  const graph = makeGraph([makeNode("Conv", ["x", "w"], ["y"], "conv", { kernel_shape: [3, 3] })], "conv", [makeValueInfo("x", DT.FLOAT, [1, 16, 8, 8])], [makeValueInfo("y", DT.FLOAT, [1, M, 6, 6])], [w]);
  return makeModel(graph);
}

describe("the engine an fp32 original is served on", () => {
  it("is the kernel engine for an MLP", () => {
    expect(fp32OnEngine(decodeModel(buildMlp([64, 128, 10], 1)))).toBe(true);
  });

  it("is the kernel engine for a convolutional model of any size", () => {
    expect(fp32OnEngine(conv(4))).toBe(true);
    expect(fp32OnEngine(conv(2048))).toBe(true);
    expect(fp32OnEngine(decodeModel(buildCnn()))).toBe(true);
  });

  it("is the kernel engine for attention (a MatMul of two run-time operands), onnxruntime-web for LSTM/GRU", () => {
    const attention = makeModel(
      makeGraph([makeNode("MatMul", ["q", "k"], ["s"], "scores")], "attention", [makeValueInfo("q", DT.FLOAT, [1, 4, 8]), makeValueInfo("k", DT.FLOAT, [1, 8, 4])], [makeValueInfo("s", DT.FLOAT, [1, 4, 4])], []),
    );
    expect(fp32OnEngine(attention)).toBe(true);
    const lstm = makeModel(makeGraph([makeNode("LSTM", ["x", "W", "R"], ["y"], "lstm", { hidden_size: 2 })], "lstm", [makeValueInfo("x", DT.FLOAT, [3, 1, 2])], [makeValueInfo("y", DT.FLOAT, [3, 1, 1, 2])], [
      makeTensor("W", DT.FLOAT, [1, 8, 2], new Float32Array(16)),
      makeTensor("R", DT.FLOAT, [1, 8, 2], new Float32Array(16)),
    ]));
    expect(fp32OnEngine(lstm)).toBe(false);
    expect(fp32OnEngine(decodeModel(buildLstm()))).toBe(false);
  });
});
