// QDQ activations on the kernel engine: a QuantizeLinear then DequantizeLinear of a run-time value on one grid (what
// QDQ exporters such as slimtrain write before each quantized layer) marks the values as on that grid, and the layer
// reading them quantizes them again onto it, exactly, for the int8 GEMM (a convolution's, on NCHW planes): the same
// integers onnxruntime computes with.
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

/** Q then DQ of `x` onto one grid into `out`: uint8 with zero point `zp`, or int8. */
function qdq(x: string, out: string, scale: number, zp: number, type: number, inits: TensorProto[]): NodeProto[] {
  inits.push(f32(`${out}.scale`, [], [scale]), makeTensor(`${out}.zp`, type, [], type === DT.UINT8 ? Uint8Array.of(zp) : Int8Array.of(zp)));
  return [
    makeNode("QuantizeLinear", [x, `${out}.scale`, `${out}.zp`], [`${out}.q`], `${out}/QuantizeLinear`),
    makeNode("DequantizeLinear", [`${out}.q`, `${out}.scale`, `${out}.zp`], [out], `${out}/DequantizeLinear`),
  ];
}

/** A DequantizeLinear of int8 levels within +-qmax, one scale per output channel (`axis`). */
function weight(name: string, dims: number[], axis: number, qmax: number, seed: number, inits: TensorProto[]): NodeProto {
  const channels = dims[axis]!;
  inits.push(
    makeTensor(`${name}_q`, DT.INT8, dims, Int8Array.from(uniform(count(dims), seed), (v) => Math.round(v * qmax))),
    f32(`${name}_scale`, [channels], uniform(channels, seed + 1, 0.004).map((v) => 0.006 + v)),
    makeTensor(`${name}_zp`, DT.INT8, [channels], new Int8Array(channels)),
  );
  return makeNode("DequantizeLinear", [`${name}_q`, `${name}_scale`, `${name}_zp`], [name], `${name}/DequantizeLinear`, { axis });
}

/** x [N, 64] -> QDQ uint8 -> MatMul(int8 W) + b -> Relu -> y1 [N, 48]; x -> QDQ int8 -> Gemm(4-bit levels, transB) -> y2. */
function qdqMlp() {
  const inits: TensorProto[] = [f32("b1", [48], uniform(48, 5, 0.2)), f32("b2", [10], uniform(10, 6, 0.1))];
  const nodes = [
    ...qdq("x", "xq", 0.011, 131, DT.UINT8, inits),
    weight("w1", [64, 48], 1, 127, 4, inits),
    makeNode("MatMul", ["xq", "w1"], ["h"], "fc1/MatMul"),
    makeNode("Add", ["h", "b1"], ["hb"], "fc1/Add"),
    makeNode("Relu", ["hb"], ["y1"], "fc1/Relu"),
    ...qdq("x", "xs", 0.017, -3, DT.INT8, inits),
    weight("w2", [10, 64], 0, 7, 8, inits),
    makeNode("Gemm", ["xs", "w2", "b2"], ["y2"], "fc2/Gemm", { transB: 1 }),
  ];
  const outputs = [makeValueInfo("y1", DT.FLOAT, ["N", 48]), makeValueInfo("y2", DT.FLOAT, ["N", 10])];
  return { bytes: encodeModel(makeModel(makeGraph(nodes, "qdq-mlp", [makeValueInfo("x", DT.FLOAT, ["N", 64])], outputs, inits))), input: [64] };
}

/** x [N, 36, 9, 9] -> QDQ uint8 -> Conv 3x3 pad 1 (int8) + b -> y1 [N, 8, 9, 9]; the same QDQ -> Conv 1x1 (4-bit) -> y2
 * [N, 6, 9, 9]; x -> QDQ int8 -> Conv 3x3 in 12 groups of 3 channels (27 inputs per output), stride 2, pad 1 -> y3
 * [N, 12, 5, 5]. */
function qdqCnn() {
  const inits: TensorProto[] = [f32("bc", [8], uniform(8, 5, 0.2))];
  const nodes = [
    ...qdq("x", "xq", 0.009, 120, DT.UINT8, inits),
    weight("wc", [8, 36, 3, 3], 0, 127, 4, inits),
    makeNode("Conv", ["xq", "wc", "bc"], ["y1"], "conv1/Conv", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    weight("wp", [6, 36, 1, 1], 0, 7, 8, inits),
    makeNode("Conv", ["xq", "wp"], ["y2"], "conv2/Conv", { kernel_shape: [1, 1] }),
    ...qdq("x", "xs", 0.013, -5, DT.INT8, inits),
    weight("wg", [12, 3, 3, 3], 0, 127, 12, inits),
    makeNode("Conv", ["xs", "wg"], ["y3"], "conv3/Conv", { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], group: 12 }),
  ];
  const outputs = [makeValueInfo("y1", DT.FLOAT, ["N", 8, 9, 9]), makeValueInfo("y2", DT.FLOAT, ["N", 6, 9, 9]), makeValueInfo("y3", DT.FLOAT, ["N", 12, 5, 5])];
  return { bytes: encodeModel(makeModel(makeGraph(nodes, "qdq-cnn", [makeValueInfo("x", DT.FLOAT, ["N", 36, 9, 9])], outputs, inits))), input: [36, 9, 9] };
}

/** The engine's kernels, after checking both outputs on a batch of 4 against onnxruntime-node's (which runs the QDQ
 * pairs on its integer kernels) within float rounding. */
async function kernelsMatching({ bytes, input }: { bytes: Uint8Array; input: number[] }, outputs = ["y1", "y2"]): Promise<Record<string, string>> {
  const { session, reason } = createKernelSession(decodeModel(bytes), plainKernelModule);
  expect(reason ?? null).toBeNull();
  const dims = [4, ...input];
  const x = uniform(count(dims), 11, 1.5);
  const got = await session!.run({ x: { type: "float32", dims, data: x } });
  const want = await runReference(bytes, { x: new ort.Tensor("float32", x, dims) });
  for (const name of outputs) {
    const w = want[name]!.data as Float32Array;
    const g = got[name]!.data as Float32Array;
    const range = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // One input level moves an output by about 1% of its range here: requantizing per row, as for float inputs
    // (or any level off), misses by far more than this.
    w.forEach((v, i) => expect(Math.abs(g[i]! - v), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * range));
  }
  return session!.kernels;
}

/** x -> Q (uint8) whose levels two DequantizeLinear nodes read, each before its own MatMul: no pair to run as one. */
function sharedLevelsMlp() {
  const inits: TensorProto[] = [f32("s", [], [0.011]), makeTensor("zp", DT.UINT8, [], Uint8Array.of(131))];
  const nodes = [
    makeNode("QuantizeLinear", ["x", "s", "zp"], ["xq"], "x/QuantizeLinear"),
    makeNode("DequantizeLinear", ["xq", "s", "zp"], ["xa"], "a/DequantizeLinear"),
    makeNode("DequantizeLinear", ["xq", "s", "zp"], ["xb"], "b/DequantizeLinear"),
    weight("w1", [64, 48], 1, 127, 4, inits),
    makeNode("MatMul", ["xa", "w1"], ["y1"], "fc1/MatMul"),
    weight("w2", [64, 10], 1, 127, 8, inits),
    makeNode("MatMul", ["xb", "w2"], ["y2"], "fc2/MatMul"),
  ];
  const outputs = [makeValueInfo("y1", DT.FLOAT, ["N", 48]), makeValueInfo("y2", DT.FLOAT, ["N", 10])];
  return { bytes: encodeModel(makeModel(makeGraph(nodes, "shared-levels", [makeValueInfo("x", DT.FLOAT, ["N", 64])], outputs, inits))), input: [64] };
}

/** The ops of the steps one run of `bytes` takes, sorted. */
async function stepOps(bytes: Uint8Array, input: number[]): Promise<string[]> {
  const { session } = createKernelSession(decodeModel(bytes), plainKernelModule);
  const dims = [1, ...input];
  const profile: { op: string }[] = [];
  await session!.run({ x: { type: "float32", dims, data: uniform(count(dims), 3, 1) } }, { profile } as never);
  return profile.map((p) => p.op).sort();
}

describe("QDQ activations on the kernel engine", () => {
  it("run an MLP's layers on the int8 kernel with the activations' own grids (uint8 and int8, 8- and 4-bit weights)", async () => {
    const kernels = await kernelsMatching(qdqMlp());
    expect(kernels["fc1/MatMul"]).toBe("qs8");
    expect(kernels["fc2/Gemm"]).toBe("qs8");
  });

  it("run convolutions on them straight on NCHW planes (padded 3x3, 1x1, grouped at stride 2): the padding is the zero point's level", async () => {
    const kernels = await kernelsMatching(qdqCnn(), ["y1", "y2", "y3"]);
    expect([kernels["conv1/Conv"], kernels["conv2/Conv"], kernels["conv3/Conv"]]).toEqual(["qs8-grid-pointwise", "qs8-grid-pointwise", "qs8-grid-pointwise"]);
  });

  it("run a QuantizeLinear and the DequantizeLinear that alone reads its levels as one step, and keep shared levels apart", async () => {
    expect(await stepOps(qdqMlp().bytes, [64])).toEqual(["Gemm", "MatMul", "QuantizeLinear", "QuantizeLinear"]);
    const shared = sharedLevelsMlp();
    expect(await stepOps(shared.bytes, shared.input)).toEqual(["DequantizeLinear", "DequantizeLinear", "MatMul", "MatMul", "QuantizeLinear"]);
    const kernels = await kernelsMatching(shared);
    expect([kernels["fc1/MatMul"], kernels["fc2/MatMul"]]).toEqual(["qs8", "qs8"]);
  });
});
