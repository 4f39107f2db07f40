// The bench's models, built with the project's graph builders (seeded): an MLP 784-1024-1024-10 (784-2048-2048-10,
// 23 MB of fp32 weights, for compression throughput) and a small CNN on
// 28x28 inputs, plus the 90% 1x16 block-pruned versions (by magnitude) that stand in for a pruning recipe.
import type { ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "../worker/onnx/builders";
import { DT } from "../worker/onnx/dtype";
import { makeTensor, readFloat32 } from "../worker/onnx/tensor";
import { intAttribute } from "../worker/onnx/attributes";

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uniform = (n: number, fanIn: number, next: () => number) =>
  Float32Array.from({ length: n }, () => (next() * 2 - 1) * Math.sqrt(6 / fanIn));

/** input [N, 784] -> MatMul+Add+Relu (hidden, 1024 by default) x2 -> Gemm(transB) 10. */
export function benchMlp(hidden = 1024): ModelProto {
  const next = rng(7);
  const sizes = [784, hidden, hidden];
  const nodes = [];
  const inits = [];
  let x = "input";
  for (let i = 0; i < 2; i++) {
    const [k, n] = [sizes[i]!, sizes[i + 1]!];
    inits.push(makeTensor(`fc${i}.weight`, DT.FLOAT, [k, n], uniform(k * n, k, next)));
    inits.push(makeTensor(`fc${i}.bias`, DT.FLOAT, [n], uniform(n, k, next).map((v) => v * 0.1)));
    nodes.push(makeNode("MatMul", [x, `fc${i}.weight`], [`fc${i}.mm`], `fc${i}/MatMul`));
    nodes.push(makeNode("Add", [`fc${i}.mm`, `fc${i}.bias`], [`fc${i}.pre`], `fc${i}/Add`));
    nodes.push(makeNode("Relu", [`fc${i}.pre`], [`fc${i}.out`], `fc${i}/Relu`));
    x = `fc${i}.out`;
  }
  inits.push(makeTensor("head.weight", DT.FLOAT, [10, hidden], uniform(10 * hidden, hidden, next)));
  inits.push(makeTensor("head.bias", DT.FLOAT, [10], new Float32Array(10)));
  nodes.push(makeNode("Gemm", [x, "head.weight", "head.bias"], ["logits"], "head/Gemm", { transB: 1 }));
  const graph = makeGraph(nodes, "mlp", [makeValueInfo("input", DT.FLOAT, ["N", 784])], [makeValueInfo("logits", DT.FLOAT, ["N", 10])], inits);
  return makeModel(graph, { "": 13 });
}

/** input [N, 1, 28, 28] -> Conv 16 3x3 -> Relu -> MaxPool 2 -> Conv 32 3x3 -> Relu -> MaxPool 2 -> Flatten -> Gemm 128 -> Relu -> Gemm 10. */
export function benchCnn(): ModelProto {
  const next = rng(11);
  const inits = [
    makeTensor("conv1.weight", DT.FLOAT, [16, 1, 3, 3], uniform(144, 9, next)),
    makeTensor("conv1.bias", DT.FLOAT, [16], new Float32Array(16)),
    makeTensor("conv2.weight", DT.FLOAT, [32, 16, 3, 3], uniform(32 * 144, 144, next)),
    makeTensor("conv2.bias", DT.FLOAT, [32], new Float32Array(32)),
    makeTensor("fc1.weight", DT.FLOAT, [128, 1568], uniform(128 * 1568, 1568, next)),
    makeTensor("fc1.bias", DT.FLOAT, [128], new Float32Array(128)),
    makeTensor("fc2.weight", DT.FLOAT, [10, 128], uniform(1280, 128, next)),
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
 * Zeroes `fraction` of the 1x16 blocks (one input, 16 consecutive output channels) of every MatMul/Gemm/Conv weight
 * with more than 16 output channels, smallest L1 norm first.
 */
export function blockPrune(model: ModelProto, fraction: number): ModelProto {
  const g = model.graph!;
  const layouts = new Map<string, { K: number; N: number; index: (k: number, n: number) => number }>();
  for (const n of g.node) {
    const t = g.initializer.find((i) => i.name === n.input[1]);
    if (!t) continue;
    const d = t.dims.map(Number);
    if (n.opType === "MatMul" && d.length === 2) layouts.set(t.name, { K: d[0]!, N: d[1]!, index: (k, c) => k * d[1]! + c });
    if (n.opType === "Gemm" && d.length === 2) {
      const tb = intAttribute(n, "transB", 0) === 1;
      const [K, N] = tb ? [d[1]!, d[0]!] : [d[0]!, d[1]!];
      layouts.set(t.name, { K, N, index: tb ? (k, c) => c * K + k : (k, c) => k * N + c });
    }
    if (n.opType === "Conv" && d.length === 4) {
      const K = d[1]! * d[2]! * d[3]!;
      layouts.set(t.name, { K, N: d[0]!, index: (k, c) => c * K + k });
    }
  }
  const initializer = g.initializer.map((t) => {
    const l = layouts.get(t.name);
    if (!l || l.N <= 16) return t;
    const w = readFloat32(t);
    const blocks: { k: number; n0: number; norm: number }[] = [];
    for (let k = 0; k < l.K; k++)
      for (let n0 = 0; n0 < l.N; n0 += 16) {
        let norm = 0;
        for (let c = n0; c < Math.min(l.N, n0 + 16); c++) norm += Math.abs(w[l.index(k, c)]!);
        blocks.push({ k, n0, norm });
      }
    blocks.sort((a, b) => a.norm - b.norm);
    for (const b of blocks.slice(0, Math.round(blocks.length * fraction)))
      for (let c = b.n0; c < Math.min(l.N, b.n0 + 16); c++) w[l.index(b.k, c)] = 0;
    return makeTensor(t.name, DT.FLOAT, t.dims.map(Number), w);
  });
  return { ...model, graph: { ...g, initializer } };
}
