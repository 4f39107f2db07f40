// Small models built with the project's graph builders, seeded so every run builds the same bytes.
import { makeGraph, makeModel, makeNode, makeValueInfo } from "../../worker/onnx/builders";
import { encodeModel } from "../../worker/onnx/codec";
import { DT } from "../../worker/onnx/dtype";
import { makeTensor } from "../../worker/onnx/tensor";

/** mulberry32: a tiny deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
export function buildMlp(sizes: number[], seed = 1, opset = 13) {
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
  return encodeModel(makeModel(graph, { "": opset }));
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
