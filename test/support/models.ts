// Models built with the project's graph builders, seeded so every run builds the same bytes: the tests' small MLP
// and CNN, and the bench's (an MLP 784-1024-1024-10, or 784-2048-2048-10 with 23 MB of fp32 weights for compression
// throughput, and a CNN on 28x28 inputs).
import type { ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { seededRandom } from "@worker/seeded-random";
import { makeTensor } from "@worker/onnx/tensor";
import { ifNode } from "./graphs";

/** mulberry32: a tiny deterministic PRNG (the Worker's own, worker/seeded-random.ts). */
export const rng = seededRandom;

/** Uniform(-a, a) weights with He-like scale for fan-in. */
export function randomWeights(n: number, fanIn: number, next: () => number): Float32Array {
  const a = Math.sqrt(6 / fanIn);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = (next() * 2 - 1) * a;
  return w;
}

export function randomInput(n: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => next());
}

/**
 * MLP: input [N, sizes[0]] -> (MatMul + Add + Relu) per hidden layer -> Gemm(transB=1) logits.
 *   input ─MatMul(W0)─Add(b0)─Relu─ ... ─Gemm(Wout^T, bout)─ logits
 */
export function mlpModel(sizes: number[], seed = 1, opset = 13): ModelProto {
  const next = rng(seed);
  const nodes = [];
  const inits = [];
  let x = "input";
  for (let i = 0; i < sizes.length - 2; i++) {
    const [k, n] = [sizes[i]!, sizes[i + 1]!];
    inits.push(makeTensor(`fc${i}.weight`, DT.FLOAT, [k, n], randomWeights(k * n, k, next)));
    inits.push(makeTensor(`fc${i}.bias`, DT.FLOAT, [n], randomWeights(n, k, next).map((v) => v * 0.1)));
    nodes.push(makeNode("MatMul", [x, `fc${i}.weight`], [`fc${i}.mm`], `fc${i}/MatMul`));
    nodes.push(makeNode("Add", [`fc${i}.mm`, `fc${i}.bias`], [`fc${i}.pre`], `fc${i}/Add`));
    nodes.push(makeNode("Relu", [`fc${i}.pre`], [`fc${i}.out`], `fc${i}/Relu`));
    x = `fc${i}.out`;
  }
  const [k, n] = [sizes[sizes.length - 2]!, sizes[sizes.length - 1]!];
  inits.push(makeTensor("head.weight", DT.FLOAT, [n, k], randomWeights(k * n, k, next)));
  inits.push(makeTensor("head.bias", DT.FLOAT, [n], new Float32Array(n)));
  nodes.push(makeNode("Gemm", [x, "head.weight", "head.bias"], ["logits"], "head/Gemm", { transB: 1 }));
  const graph = makeGraph(
    nodes,
    "mlp",
    [makeValueInfo("input", DT.FLOAT, ["N", sizes[0]!])],
    [makeValueInfo("logits", DT.FLOAT, ["N", n])],
    inits,
  );
  return makeModel(graph, { "": opset });
}

/** The MLP's ONNX bytes. */
export function buildMlp(sizes: number[], seed = 1, opset = 13) {
  return encodeModel(mlpModel(sizes, seed, opset));
}

/** The MLP with a batch dim fixed at 1 (as torch.onnx.export writes it without dynamic_axes): input [1, sizes[0]]. */
export function buildFixedBatchMlp(sizes: number[], seed = 1) {
  const m = mlpModel(sizes, seed);
  const graph = m.graph!;
  return encodeModel({
    ...m,
    graph: {
      ...graph,
      input: [makeValueInfo("input", DT.FLOAT, [1, sizes[0]!])],
      output: [makeValueInfo("logits", DT.FLOAT, [1, sizes[sizes.length - 1]!])],
    },
  });
}

/**
 * A speech front-end in miniature: a filterbank of tiny weights (~1e-4, as mel weights are beside learned layers of
 * ~1) feeding a dense layer. Magnitudes are distinct within each layer, so "the k smallest" is unambiguous.
 *   input [N,16] ─MatMul(mel.weight [16,8])─ mel ─MatMul(fc.weight [8,64])─ output [N,64]
 */
export function buildFilterbank(seed = 5) {
  const next = rng(seed);
  const signed = (n: number, base: number, scale: number) =>
    Float32Array.from({ length: n }, () => (base + next()) * scale * (next() < 0.5 ? -1 : 1));
  const graph = makeGraph(
    [makeNode("MatMul", ["input", "mel.weight"], ["mel"], "mel/MatMul"), makeNode("MatMul", ["mel", "fc.weight"], ["output"], "fc/MatMul")],
    "filterbank",
    [makeValueInfo("input", DT.FLOAT, ["N", 16])],
    [makeValueInfo("output", DT.FLOAT, ["N", 64])],
    [makeTensor("mel.weight", DT.FLOAT, [16, 8], signed(128, 1, 1e-4)), makeTensor("fc.weight", DT.FLOAT, [8, 64], signed(512, 0.5, 1))],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

/**
 * Small CNN on [N, 1, 12, 12]:
 *   input ─Conv(8,3x3,pad1)─Relu─MaxPool(2)─Conv(16,3x3)─Relu─GlobalAveragePool─Flatten─Gemm(10)─ logits
 */
export function buildCnn(seed = 2, opset = 13) {
  const next = rng(seed);
  const inits = [
    makeTensor("conv1.weight", DT.FLOAT, [8, 1, 3, 3], randomWeights(72, 9, next)),
    makeTensor("conv1.bias", DT.FLOAT, [8], randomWeights(8, 9, next).map((v) => v * 0.1)),
    makeTensor("conv2.weight", DT.FLOAT, [16, 8, 3, 3], randomWeights(16 * 72, 72, next)),
    makeTensor("conv2.bias", DT.FLOAT, [16], new Float32Array(16)),
    makeTensor("fc.weight", DT.FLOAT, [16, 10], randomWeights(160, 16, next)),
    makeTensor("fc.bias", DT.FLOAT, [10], new Float32Array(10)),
  ];
  const nodes = [
    makeNode("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], "conv1", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("Relu", ["c1"], ["r1"], "relu1"),
    makeNode("MaxPool", ["r1"], ["p1"], "pool1", { kernel_shape: [2, 2], strides: [2, 2] }),
    makeNode("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], "conv2", { kernel_shape: [3, 3] }),
    makeNode("Relu", ["c2"], ["r2"], "relu2"),
    makeNode("GlobalAveragePool", ["r2"], ["g"], "gap"),
    makeNode("Flatten", ["g"], ["f"], "flatten", { axis: 1 }),
    makeNode("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], "fc"),
  ];
  const graph = makeGraph(
    nodes,
    "cnn",
    [makeValueInfo("input", DT.FLOAT, ["N", 1, 12, 12])],
    [makeValueInfo("logits", DT.FLOAT, ["N", 10])],
    inits,
  );
  return encodeModel(makeModel(graph, { "": opset }));
}

/**
 * Residual CNN on [N, 8, 12, 12], a ResNet block whose shortcut is a strided 1x1 Conv (a downsample):
 *   input ─Conv(16,3x3,stride2,pad1)─Relu─Conv(16,3x3,pad1)─┐
 *   input ─Conv(16,1x1,stride2)─────────────────────────────Add─Relu─GlobalAveragePool─Flatten─Gemm(10)─ logits
 */
export function buildResidualCnn(seed = 6) {
  const next = rng(seed);
  const inits = [
    makeTensor("a.weight", DT.FLOAT, [16, 8, 3, 3], randomWeights(16 * 72, 72, next)),
    makeTensor("a.bias", DT.FLOAT, [16], randomWeights(16, 72, next).map((v) => v * 0.1)),
    makeTensor("b.weight", DT.FLOAT, [16, 16, 3, 3], randomWeights(16 * 144, 144, next)),
    makeTensor("b.bias", DT.FLOAT, [16], randomWeights(16, 144, next).map((v) => v * 0.1)),
    makeTensor("down.weight", DT.FLOAT, [16, 8, 1, 1], randomWeights(128, 8, next)),
    makeTensor("down.bias", DT.FLOAT, [16], new Float32Array(16)),
    makeTensor("fc.weight", DT.FLOAT, [16, 10], randomWeights(160, 16, next)),
    makeTensor("fc.bias", DT.FLOAT, [10], new Float32Array(10)),
  ];
  const nodes = [
    makeNode("Conv", ["input", "a.weight", "a.bias"], ["ca"], "a", { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }),
    makeNode("Relu", ["ca"], ["ra"], "relu_a"),
    makeNode("Conv", ["ra", "b.weight", "b.bias"], ["cb"], "b", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("Conv", ["input", "down.weight", "down.bias"], ["cd"], "down", { kernel_shape: [1, 1], strides: [2, 2] }),
    makeNode("Add", ["cb", "cd"], ["sum"], "add"),
    makeNode("Relu", ["sum"], ["rs"], "relu_sum"),
    makeNode("GlobalAveragePool", ["rs"], ["g"], "gap"),
    makeNode("Flatten", ["g"], ["f"], "flatten", { axis: 1 }),
    makeNode("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], "fc"),
  ];
  const graph = makeGraph(nodes, "residual_cnn", [makeValueInfo("input", DT.FLOAT, ["N", 8, 12, 12])], [makeValueInfo("logits", DT.FLOAT, ["N", 10])], inits);
  return encodeModel(makeModel(graph, { "": 13 }));
}

/**
 * The MLP with Shrink activations, an op the kernel engine does not cover: onnxruntime-web serves it and its
 * variants alike.
 */
export function buildUncoveredMlp(sizes: number[], seed = 1) {
  const model = mlpModel(sizes, seed);
  // lambd 0.05: near the identity, so that outputs are not zeroed.
  for (const n of model.graph!.node) if (n.opType === "Relu") Object.assign(n, { opType: "Shrink", attribute: makeNode("Shrink", [], [], "", { lambd: { float: 0.05 } }).attribute });
  return encodeModel(model);
}

/**
 * Small LSTM classifier on [N, 6, 8]:
 *   input ─Transpose(1,0,2)─LSTM(16)─Y_h─Reshape[-1,16]─Gemm(10)─ logits
 */
export function buildLstm(seed = 4) {
  const next = rng(seed);
  const [I, H] = [8, 16];
  const inits = [
    makeTensor("lstm.W", DT.FLOAT, [1, 4 * H, I], randomWeights(4 * H * I, I, next)),
    makeTensor("lstm.R", DT.FLOAT, [1, 4 * H, H], randomWeights(4 * H * H, H, next)),
    makeTensor("lstm.B", DT.FLOAT, [1, 8 * H], randomWeights(8 * H, H, next).map((v) => v * 0.1)),
    makeTensor("hidden.shape", DT.INT64, [2], new BigInt64Array([-1n, BigInt(H)])),
    makeTensor("fc.weight", DT.FLOAT, [H, 10], randomWeights(H * 10, H, next)),
    makeTensor("fc.bias", DT.FLOAT, [10], new Float32Array(10)),
  ];
  const nodes = [
    makeNode("Transpose", ["input"], ["steps"], "time_major", { perm: [1, 0, 2] }),
    makeNode("LSTM", ["steps", "lstm.W", "lstm.R", "lstm.B"], ["", "h"], "lstm", { hidden_size: H }),
    makeNode("Reshape", ["h", "hidden.shape"], ["last"], "last"),
    makeNode("Gemm", ["last", "fc.weight", "fc.bias"], ["logits"], "fc"),
  ];
  const graph = makeGraph(nodes, "lstm", [makeValueInfo("input", DT.FLOAT, ["N", 6, I])], [makeValueInfo("logits", DT.FLOAT, ["N", 10])], inits);
  return encodeModel(makeModel(graph, { "": 13 }));
}

/**
 * A model whose branch an int64 sample-rate input chooses, as voice-activity detectors switch on `sr`: input [N, 8];
 * If(Equal(sr, 16000)): then Relu(input W), else Tanh(input W), each branch holding its own initializer named `w`
 * ([8, 10]; legal, as each body is its own scope) -> logits [N, 10].
 */
export function buildRateSwitch(seed = 5) {
  const next = rng(seed);
  const branch = (tag: string, act: string) =>
    makeGraph(
      [makeNode("MatMul", ["input", "w"], [`${tag}.z`], `${tag}.fc`), makeNode(act, [`${tag}.z`], [`${tag}.y`], `${tag}.act`)],
      tag,
      [],
      [makeValueInfo(`${tag}.y`, DT.FLOAT, ["N", 10])],
      [makeTensor("w", DT.FLOAT, [8, 10], randomWeights(80, 8, next))],
    );
  const graph = makeGraph(
    [makeNode("Equal", ["sr", "rate16k"], ["is16k"], "is16k"), ifNode("is16k", ["logits"], branch("then", "Relu"), branch("else", "Tanh"), "by_rate")],
    "rate_switch",
    [makeValueInfo("input", DT.FLOAT, ["N", 8]), makeValueInfo("sr", DT.INT64, [])],
    [makeValueInfo("logits", DT.FLOAT, ["N", 10])],
    [makeTensor("rate16k", DT.INT64, [], new BigInt64Array([16000n]))],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

/** input [N, 784] -> MatMul+Add+Relu (hidden, 1024 by default) x2 -> Gemm(transB) 10: the test MLP at bench size. */
export function benchMlp(hidden = 1024): ModelProto {
  return mlpModel([784, hidden, hidden, 10], 7);
}

/**
 * A classifier as tf2onnx writes one at an old opset: NHWC input `input_1:0` [N, 8, 8, 3] -> Transpose -> Conv 16 3x3
 * (SAME_UPPER) -> Relu -> Conv 32 1x1 -> Relu -> Transpose -> ReduceMean over H, W (keepdims 0) -> MatMul + Add ->
 * Softmax (axis 1, as before opset 13) -> `Identity:0`, with no intermediate or output shape stated.
 */
export function buildTf2onnxClassifier(opset = 11, seed = 12): Uint8Array {
  const next = rng(seed);
  const graph = makeGraph(
    [
      makeNode("Transpose", ["input_1:0"], ["nchw"], "model/transpose_in", { perm: [0, 3, 1, 2] }),
      makeNode("Conv", ["nchw", "conv1/kernel", "conv1/bias"], ["c1"], "model/conv1/Conv2D", { kernel_shape: [3, 3], auto_pad: "SAME_UPPER" }),
      makeNode("Relu", ["c1"], ["r1"], "model/conv1/Relu"),
      makeNode("Conv", ["r1", "conv2/kernel", "conv2/bias"], ["c2"], "model/conv2/Conv2D"),
      makeNode("Relu", ["c2"], ["r2"], "model/conv2/Relu"),
      makeNode("Transpose", ["r2"], ["nhwc"], "model/transpose_out", { perm: [0, 2, 3, 1] }),
      makeNode("ReduceMean", ["nhwc"], ["gap"], "model/global_average_pooling2d/Mean", { axes: [1, 2], keepdims: 0 }),
      makeNode("MatMul", ["gap", "dense/kernel"], ["mm"], "model/dense/MatMul"),
      makeNode("Add", ["mm", "dense/bias"], ["logits"], "model/dense/BiasAdd"),
      makeNode("Softmax", ["logits"], ["Identity:0"], "model/dense/Softmax"),
    ],
    "tf2onnx",
    [makeValueInfo("input_1:0", DT.FLOAT, ["unk__1", 8, 8, 3])],
    [makeValueInfo("Identity:0", DT.FLOAT, [])],
    [
      makeTensor("conv1/kernel", DT.FLOAT, [16, 3, 3, 3], randomWeights(16 * 27, 27, next)),
      makeTensor("conv1/bias", DT.FLOAT, [16], randomWeights(16, 27, next).map((v) => v * 0.1)),
      makeTensor("conv2/kernel", DT.FLOAT, [32, 16, 1, 1], randomWeights(32 * 16, 16, next)),
      makeTensor("conv2/bias", DT.FLOAT, [32], randomWeights(32, 16, next).map((v) => v * 0.1)),
      makeTensor("dense/kernel", DT.FLOAT, [32, 10], randomWeights(320, 32, next)),
      makeTensor("dense/bias", DT.FLOAT, [10], randomWeights(10, 32, next).map((v) => v * 0.1)),
    ],
  );
  const out = graph.output[0]!.type!.value;
  if (out.case === "tensorType") out.value.shape = undefined;
  return encodeModel(makeModel(graph, { "": opset }, 6));
}

/** input [N, 1, 28, 28] -> Conv 16 3x3 -> Relu -> MaxPool 2 -> Conv 32 3x3 -> Relu -> MaxPool 2 -> Flatten -> Gemm 128 -> Relu -> Gemm 10. */
export function benchCnn(): ModelProto {
  const next = rng(11);
  const inits = [
    makeTensor("conv1.weight", DT.FLOAT, [16, 1, 3, 3], randomWeights(144, 9, next)),
    makeTensor("conv1.bias", DT.FLOAT, [16], new Float32Array(16)),
    makeTensor("conv2.weight", DT.FLOAT, [32, 16, 3, 3], randomWeights(32 * 144, 144, next)),
    makeTensor("conv2.bias", DT.FLOAT, [32], new Float32Array(32)),
    makeTensor("fc1.weight", DT.FLOAT, [128, 1568], randomWeights(128 * 1568, 1568, next)),
    makeTensor("fc1.bias", DT.FLOAT, [128], new Float32Array(128)),
    makeTensor("fc2.weight", DT.FLOAT, [10, 128], randomWeights(1280, 128, next)),
    makeTensor("fc2.bias", DT.FLOAT, [10], new Float32Array(10)),
  ];
  const nodes = [
    makeNode("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], "conv1", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("Relu", ["c1"], ["r1"], "relu1"),
    makeNode("MaxPool", ["r1"], ["p1"], "pool1", { kernel_shape: [2, 2], strides: [2, 2] }),
    makeNode("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], "conv2", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    makeNode("Relu", ["c2"], ["r2"], "relu2"),
    makeNode("MaxPool", ["r2"], ["p2"], "pool2", { kernel_shape: [2, 2], strides: [2, 2] }),
    makeNode("Flatten", ["p2"], ["f"], "flatten", { axis: 1 }),
    makeNode("Gemm", ["f", "fc1.weight", "fc1.bias"], ["h"], "fc1", { transB: 1 }),
    makeNode("Relu", ["h"], ["hr"], "relu3"),
    makeNode("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["logits"], "fc2", { transB: 1 }),
  ];
  const graph = makeGraph(nodes, "cnn", [makeValueInfo("input", DT.FLOAT, ["N", 1, 28, 28])], [makeValueInfo("logits", DT.FLOAT, ["N", 10])], inits);
  return makeModel(graph, { "": 13 });
}

/**
 * A model that loads and runs everywhere but answers no finite value: the MLP [8 -> 4]'s signature with its
 * product divided by a zero initializer (x/0 is ±Inf, 0/0 NaN). Its weights are large enough to compress.
 *   input [N,8] ─MatMul(fc0.weight [8,256])─MatMul(fc1.weight [256,4])─ mm ─Div(zero [4])─ logits [N,4]
 */
export function buildNonFiniteMlp(seed = 1) {
  const next = rng(seed);
  const graph = makeGraph(
    [
      makeNode("MatMul", ["input", "fc0.weight"], ["hidden"], "fc0/MatMul"),
      makeNode("MatMul", ["hidden", "fc1.weight"], ["mm"], "fc1/MatMul"),
      makeNode("Div", ["mm", "zero"], ["logits"], "fc1/Div"),
    ],
    "non_finite",
    [makeValueInfo("input", DT.FLOAT, ["N", 8])],
    [makeValueInfo("logits", DT.FLOAT, ["N", 4])],
    [
      makeTensor("fc0.weight", DT.FLOAT, [8, 256], randomWeights(8 * 256, 8, next)),
      makeTensor("fc1.weight", DT.FLOAT, [256, 4], randomWeights(256 * 4, 256, next)),
      makeTensor("zero", DT.FLOAT, [4], new Float32Array(4)),
    ],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

/**
 * An opset-9 MLP whose logits also feed a Dropout with a named mask output (the input's type at 9, bool from 10):
 * a model no lift can take to a newer opset.
 */
export function buildUnliftableMlp(sizes: number[], seed = 1) {
  const model = mlpModel(sizes, seed, 9);
  model.graph!.node.push(makeNode("Dropout", ["logits"], ["logits.dropped", "logits.mask"], "dropout"));
  return encodeModel(model);
}

/** Channels of outlierBlock's activations. */
export const OUTLIER_BLOCK_CHANNELS = 32;

/**
 * A transformer block in miniature, [B, T, K] -> [B, T, 8]: LayerNormalization whose scale makes two channels 40x the
 * others (the outliers SmoothQuant is for), two projections reading its output, then a Relu and an output projection.
 * With `residual`, the normalized activation also feeds an Add (post-LN encoders' residual path), so that the division
 * cannot go into the norm.
 */
export function outlierBlock(residual: boolean): ModelProto {
  const K = OUTLIER_BLOCK_CHANNELS;
  const next = rng(9);
  const gamma = Float32Array.from({ length: K }, (_, j) => (j === 3 || j === 17 ? 40 : 1) * (0.5 + next()));
  const beta = Float32Array.from({ length: K }, () => 0.1 * (next() - 0.5));
  const nodes = [
    makeNode("LayerNormalization", ["input", "ln.gamma", "ln.beta"], ["ln"], "ln", { axis: -1 }),
    makeNode("MatMul", ["ln", "q.weight"], ["q"], "q/MatMul"),
    makeNode("MatMul", ["ln", "k.weight"], ["k"], "k/MatMul"),
    makeNode("Add", ["q", "k"], ["qk"], "qk"),
    ...(residual ? [makeNode("Add", ["qk", "ln"], ["res"], "residual")] : []),
    makeNode("Relu", [residual ? "res" : "qk"], ["h"], "relu"),
    makeNode("MatMul", ["h", "out.weight"], ["y"], "out/MatMul"),
  ];
  const graph = makeGraph(
    nodes,
    "block",
    [makeValueInfo("input", DT.FLOAT, ["B", "T", K])],
    [makeValueInfo("y", DT.FLOAT, ["B", "T", 8])],
    [
      makeTensor("ln.gamma", DT.FLOAT, [K], gamma),
      makeTensor("ln.beta", DT.FLOAT, [K], beta),
      makeTensor("q.weight", DT.FLOAT, [K, K], randomWeights(K * K, K, next)),
      makeTensor("k.weight", DT.FLOAT, [K, K], randomWeights(K * K, K, next)),
      makeTensor("out.weight", DT.FLOAT, [K, 8], randomWeights(K * 8, K, next)),
    ],
  );
  return makeModel(graph, { "": 17 });
}
