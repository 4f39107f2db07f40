// Binarized activations on the kernel engine: a Where(x - t >= 0, 1, -1) (what slimtrain exports for 1-bit
// activations) marks its output as all -1 or +1, the mark passes through ops that only move elements (Flatten,
// MaxPool), and a 1-bit-weight layer reading such an input runs on XNOR-popcount, against onnxruntime-node.
import { describe, expect, it } from "vitest";
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { uniform } from "@test/support/numbers";
import { ort, runReference } from "@test/support/ort-node";

const f32 = (name: string, dims: number[], data: ArrayLike<number>) => makeTensor(name, DT.FLOAT, dims, Float32Array.from(data));
const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
/** Levels +-1 from a seed, never 0. */
const signs = (n: number, seed: number) => Int8Array.from(uniform(n, seed), (v) => (v >= 0 ? 1 : -1));

/** Nodes binarizing `x` against per-channel thresholds `t` (broadcast as its dims say) into `out`, as slimtrain exports it. */
function binarize(x: string, t: TensorProto, out: string, inits: TensorProto[], [pos, neg] = [1, -1]): NodeProto[] {
  inits.push(t, f32(`${out}.zero`, [], [0]), f32(`${out}.pos`, [], [pos]), f32(`${out}.neg`, [], [neg]));
  return [
    makeNode("Sub", [x, t.name], [`${out}.centered`], `${out}/Sub`),
    makeNode("GreaterOrEqual", [`${out}.centered`, `${out}.zero`], [`${out}.ge`], `${out}/GreaterOrEqual`),
    makeNode("Where", [`${out}.ge`, `${out}.pos`, `${out}.neg`], [out], `${out}/Where`),
  ];
}

/** A DequantizeLinear of +-1 int8 levels with one scale per output channel (`axis`). */
function binaryWeight(name: string, dims: number[], axis: number, seed: number, inits: TensorProto[]): NodeProto {
  const channels = dims[axis]!;
  inits.push(
    makeTensor(`${name}_q`, DT.INT8, dims, signs(count(dims), seed)),
    f32(`${name}_scale`, [channels], uniform(channels, seed + 1, 0.05).map((v) => 0.06 + v)),
    makeTensor(`${name}_zp`, DT.INT8, [channels], new Int8Array(channels)),
  );
  return makeNode("DequantizeLinear", [`${name}_q`, `${name}_scale`, `${name}_zp`], [name], `${name}/DequantizeLinear`, { axis });
}

/** x [N, 64] -> binarize -> MatMul(DQ +-1 [64, 48]) + b -> binarize -> Gemm(+-s fp32 [10, 48], transB) -> y [N, 10]. */
function bnnMlp(levels: [number, number] = [1, -1]) {
  const inits: TensorProto[] = [];
  const w2 = Float32Array.from(signs(10 * 48, 9), (s, i) => s * (0.02 + 0.01 * Math.floor(i / 48)));
  inits.push(f32("b1", [48], uniform(48, 5, 0.5)), f32("w2", [10, 48], w2), f32("b2", [10], uniform(10, 6, 0.1)));
  const nodes = [
    ...binarize("x", f32("t0", [64], uniform(64, 3, 0.2)), "xb", inits, levels),
    binaryWeight("w1", [64, 48], 1, 4, inits),
    makeNode("MatMul", ["xb", "w1"], ["h"], "fc1/MatMul"),
    makeNode("Add", ["h", "b1"], ["hb"], "fc1/Add"),
    ...binarize("hb", f32("t1", [48], uniform(48, 7, 0.3)), "hs", inits),
    makeNode("Gemm", ["hs", "w2", "b2"], ["y"], "fc2/Gemm", { transB: 1 }),
  ];
  return { bytes: encodeModel(makeModel(makeGraph(nodes, "bnn-mlp", [makeValueInfo("x", DT.FLOAT, ["N", 64])], [makeValueInfo("y", DT.FLOAT, ["N", 10])], inits))), input: [64] };
}

/** x [N, 4, 10, 10] -> binarize -> MaxPool 2x2 -> Conv 3x3 (DQ +-1, `pads`) -> binarize -> Flatten -> Gemm(DQ +-1) -> y. */
function bnnCnn(pads: number[]) {
  const inits: TensorProto[] = [];
  const side = 5 - 2 + (pads[0]! + pads[2]!);
  const nodes = [
    ...binarize("x", f32("t0", [4, 1, 1], uniform(4, 3, 0.2)), "xb", inits),
    makeNode("MaxPool", ["xb"], ["p"], "pool/MaxPool", { kernel_shape: [2, 2], strides: [2, 2] }),
    binaryWeight("wc", [8, 4, 3, 3], 0, 4, inits),
    makeNode("Conv", ["p", "wc"], ["c"], "conv/Conv", { kernel_shape: [3, 3], pads }),
    ...binarize("c", f32("t1", [8, 1, 1], uniform(8, 7, 0.3)), "cs", inits),
    makeNode("Flatten", ["cs"], ["f"], "flat/Flatten"),
    binaryWeight("wf", [8 * side * side, 6], 1, 8, inits),
    makeNode("MatMul", ["f", "wf"], ["y"], "fc/MatMul"),
  ];
  return { bytes: encodeModel(makeModel(makeGraph(nodes, "bnn-cnn", [makeValueInfo("x", DT.FLOAT, ["N", 4, 10, 10])], [makeValueInfo("y", DT.FLOAT, ["N", 6])], inits))), input: [4, 10, 10] };
}

/** The engine's kernels for the model, after checking its answer on a batch of 5 against onnxruntime-node's. */
async function kernelsMatching({ bytes, input }: { bytes: Uint8Array; input: number[] }): Promise<Record<string, string>> {
  const { session, reason } = createKernelSession(decodeModel(bytes), plainKernelModule);
  expect(reason ?? null).toBeNull();
  const dims = [5, ...input];
  const x = uniform(count(dims), 11, 1);
  const got = (await session!.run({ x: { type: "float32", dims, data: x } })).y!.data as Float32Array;
  const want = (await runReference(bytes, { x: new ort.Tensor("float32", x, dims) })).y!.data as Float32Array;
  const range = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // Sums of +-1 products are exact in both; only the float scaling and bias rounding differ.
  want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(1e-5 * range));
  return session!.kernels;
}

describe("binarized activations on the kernel engine", () => {
  it("run a 1-bit MLP's layers on XNOR-popcount, quantized and +-scale float weights alike", async () => {
    const kernels = await kernelsMatching(bnnMlp());
    expect(kernels["fc1/MatMul"]).toBe("xnor");
    expect(kernels["fc2/Gemm"]).toBe("xnor");
  });

  it("keep a layer whose input takes other values (Where(.., 1, 0)) on the int8 kernel", async () => {
    const kernels = await kernelsMatching(bnnMlp([1, 0]));
    expect(kernels["fc1/MatMul"]).toBe("qs8");
    expect(kernels["fc2/Gemm"]).toBe("xnor");
  });

  it("pass through MaxPool and Flatten, and take an unpadded convolution to XNOR-popcount", async () => {
    const kernels = await kernelsMatching(bnnCnn([0, 0, 0, 0]));
    expect(kernels["conv/Conv"]).toBe("xnor");
    expect(kernels["fc/MatMul"]).toBe("xnor");
  });

  it("keep a padded convolution on the int8 kernel: its patches hold the padding's zeros", async () => {
    const kernels = await kernelsMatching(bnnCnn([1, 1, 1, 1]));
    expect(kernels["conv/Conv"]).toBe("qs8");
    expect(kernels["fc/MatMul"]).toBe("xnor");
  });
});
