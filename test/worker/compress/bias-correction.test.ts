// Bias correction: every output channel of a corrected layer keeps its float mean on the calibration inputs
// (measured by onnxruntime-node, the independent executor, on the float model and the variant), whatever the
// layer's form (Gemm, Conv with pads, strides and groups, MatMul with or without the exporter's Add) and whether
// it had a bias; recipes name it only when on, and refuse it without calibration.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { buildCnn, buildMlp, randomWeights, rng } from "@test/support/models";
import { floatTensor, runReference } from "@test/support/ort-node";
import { hessians as moments } from "@test/support/hessians";

const DATASET = "b".repeat(24);
const issues = (r: unknown) => {
  const p = RecipeSchema.safeParse(r);
  return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

/** Inputs with a mean far from zero (as post-Relu activations are), so that a weight's error moves the output mean. */
function shifted(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => 0.6 + next() * 1.5);
}

interface Layer {
  name: string;
  inDims: number[];
  nodes: ReturnType<typeof makeNode>[];
  inits: ReturnType<typeof makeTensor>[];
  /** Output channels lie on this axis of y. */
  channelAxis: number;
}

function layerModel(l: Layer): Uint8Array {
  const graph = makeGraph(l.nodes, l.name, [makeValueInfo("input", DT.FLOAT, l.inDims)], [makeValueInfo("y", DT.FLOAT, [])], l.inits);
  return encodeModel(makeModel(graph, { "": 13 }));
}

const next = rng(21);
const LAYERS: Layer[] = [
  {
    name: "matmul with the exporter's Add",
    inDims: [64, 24],
    nodes: [makeNode("MatMul", ["input", "w"], ["mm"], "fc/MatMul"), makeNode("Add", ["mm", "b"], ["y"], "fc/Add")],
    inits: [makeTensor("w", DT.FLOAT, [24, 12], randomWeights(288, 24, next)), makeTensor("b", DT.FLOAT, [12], randomWeights(12, 4, next))],
    channelAxis: 1,
  },
  {
    name: "matmul without a bias",
    inDims: [64, 24],
    nodes: [makeNode("MatMul", ["input", "w"], ["y"], "fc/MatMul")],
    inits: [makeTensor("w", DT.FLOAT, [24, 12], randomWeights(288, 24, next))],
    channelAxis: 1,
  },
  {
    name: "gemm transB with a [1, N] bias",
    inDims: [64, 24],
    nodes: [makeNode("Gemm", ["input", "w", "b"], ["y"], "fc", { transB: 1 })],
    inits: [makeTensor("w", DT.FLOAT, [12, 24], randomWeights(288, 24, next)), makeTensor("b", DT.FLOAT, [1, 12], randomWeights(12, 4, next))],
    channelAxis: 1,
  },
  {
    name: "gemm without a bias",
    inDims: [64, 24],
    nodes: [makeNode("Gemm", ["input", "w"], ["y"], "fc")],
    inits: [makeTensor("w", DT.FLOAT, [24, 12], randomWeights(288, 24, next))],
    channelAxis: 1,
  },
  {
    name: "conv with pads and strides",
    inDims: [2, 4, 9, 8],
    nodes: [makeNode("Conv", ["input", "w", "b"], ["y"], "conv", { kernel_shape: [3, 3], pads: [1, 0, 1, 2], strides: [2, 1] })],
    inits: [makeTensor("w", DT.FLOAT, [6, 4, 3, 3], randomWeights(216, 36, next)), makeTensor("b", DT.FLOAT, [6], randomWeights(6, 4, next))],
    channelAxis: 1,
  },
  {
    name: "depthwise conv without a bias",
    inDims: [2, 8, 7, 7],
    nodes: [makeNode("Conv", ["input", "w"], ["y"], "dw", { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 })],
    inits: [makeTensor("w", DT.FLOAT, [8, 1, 3, 3], randomWeights(72, 9, next))],
    channelAxis: 1,
  },
];

/** Per output channel: the mean over every other axis of (variant - float), and the largest |float output|. */
async function channelMeanError(float: Uint8Array, variant: Uint8Array, x: Float32Array, dims: number[], axis: number) {
  const a = (await runReference(float, { input: floatTensor(x, dims) })).y!;
  const b = (await runReference(variant, { input: floatTensor(x, dims) })).y!;
  const yd = a.dims as number[];
  const channels = yd[axis]!;
  const inner = yd.slice(axis + 1).reduce((p, q) => p * q, 1);
  const sums = new Float64Array(channels);
  let scale = 0;
  const av = a.data as Float32Array;
  const bv = b.data as Float32Array;
  for (let i = 0; i < av.length; i++) {
    const c = Math.floor(i / inner) % channels;
    sums[c] = sums[c]! + bv[i]! - av[i]!;
    scale = Math.max(scale, Math.abs(av[i]!));
  }
  const per = av.length / channels;
  return { errors: Array.from(sums, (s) => s / per), scale };
}

describe("biasCorrection in recipes", () => {
  it("is named only when on, needs calibration, and applies to weight-only and static grids", () => {
    const on = canonicalJson(RecipeSchema.parse({ quantize: { bits: 4, biasCorrection: true, calibration: { dataset: DATASET } } }));
    expect(on).toContain('"biasCorrection":true');
    expect(canonicalJson(RecipeSchema.parse({ quantize: { bits: 4, biasCorrection: false } }))).toBe(canonicalJson(RecipeSchema.parse({ quantize: { bits: 4 } })));
    expect(issues({ quantize: { bits: 2, biasCorrection: true } })).toEqual([expect.stringMatching(/^quantize.calibration: biasCorrection needs calibration/)]);
    expect(issues({ quantize: { bits: 8, scheme: "dynamic", biasCorrection: true, calibration: { dataset: DATASET } } })).toContain(
      "quantize.biasCorrection: biasCorrection applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)",
    );
    expect(issues({ quantize: { bits: 16, biasCorrection: true, calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { codebook: { bits: 4 }, biasCorrection: true } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { bits: 8, scheme: "static", biasCorrection: true, calibration: { dataset: DATASET } } })).toEqual([]);
  });

  it("needs the calibration means: without them the recipe does not compress as if it had", () => {
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, biasCorrection: true, calibration: { dataset: DATASET } } });
    expect(() => compressModel(decodeModel(buildMlp([16, 8, 4])), recipe)).toThrow(/needs the calibration means/);
  });
});

describe("a corrected layer keeps each channel's float mean on the calibration inputs (onnxruntime-node)", () => {
  for (const layer of LAYERS) {
    for (const quantize of [{ bits: 2, granularity: "per-channel" }, { bits: 1 }, { bits: 4, granularity: "per-channel" }]) {
      it(`${layer.name}, ${JSON.stringify(quantize)}`, async () => {
        const float = layerModel(layer);
        const count = layer.inDims.reduce((a, b) => a * b, 1);
        const x = shifted(count, 5);
        const m = await moments(float, x, layer.inDims);
        const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize })).bytes;
        const recipe = RecipeSchema.parse({ quantize: { ...quantize, biasCorrection: true, calibration: { dataset: DATASET } } });
        const corrected = compressModel(decodeModel(float), recipe, undefined, undefined, m);
        expect(corrected.biasCorrection?.corrected).toHaveLength(1);
        expect(corrected.biasCorrection?.left).toEqual([]);
        const hadBias = layer.nodes.length > 1 || layer.nodes[0]!.input.length > 2;
        expect(corrected.biasCorrection!.corrected[0]!.added).toBe(!hadBias);
        const before = await channelMeanError(float, plain, x, layer.inDims, layer.channelAxis);
        const after = await channelMeanError(float, corrected.bytes, x, layer.inDims, layer.channelAxis);
        // float32 sums over at most a few hundred products of values below ~10: 1e-5 of the output scale.
        const tolerance = 1e-5 * after.scale;
        for (const e of after.errors) expect(Math.abs(e)).toBeLessThan(tolerance);
        expect(Math.max(...before.errors.map(Math.abs))).toBeGreaterThan(100 * tolerance);
        // Deterministic: the same model, recipe and moments give the same bytes.
        expect(compressModel(decodeModel(float), recipe, undefined, undefined, m).bytes).toEqual(corrected.bytes);
      });
    }
  }
});

describe("bias correction on whole models", () => {
  it("MLP (MatMul + Add, Gemm): every layer is corrected and the output mean error shrinks on unseen inputs", async () => {
    const sizes = [32, 48, 24, 10];
    const float = buildMlp(sizes, 3);
    const x = shifted(256 * 32, 8);
    const unseen = shifted(256 * 32, 9);
    const m = await moments(float, x, [256, 32]);
    const quantize = { bits: 2, granularity: "per-channel" };
    const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize })).bytes;
    const corrected = compressModel(decodeModel(float), RecipeSchema.parse({ quantize: { ...quantize, biasCorrection: true, calibration: { dataset: DATASET } } }), undefined, undefined, m);
    expect(corrected.biasCorrection!.corrected.map((c) => c.layer).sort()).toEqual(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]);
    const out = async (bytes: Uint8Array) => (await runReference(bytes, { input: floatTensor(unseen, [256, 32]) })).logits!.data as Float32Array;
    const [a, b, c] = [await out(float), await out(plain), await out(corrected.bytes)];
    const meanBias = (v: Float32Array) => {
      const s = new Float64Array(10);
      for (let i = 0; i < v.length; i++) s[i % 10] = s[i % 10]! + v[i]! - a[i]!;
      return Math.hypot(...s) / 256;
    };
    console.log(JSON.stringify({ plain: meanBias(b), corrected: meanBias(c) }));
    expect(meanBias(c)).toBeLessThan(meanBias(b) / 2);
    // The original biases are replaced, not kept beside their copies.
    const names = decodeModel(corrected.bytes).graph!.initializer.map((t) => t.name);
    expect(names.filter((n) => /^fc\d\.bias$|^head\.bias$/.test(n))).toEqual([]);
  });

  it("a bias two layers share gets one corrected copy per layer, and a third reader keeps the original", async () => {
    const n = rng(4);
    const graph = makeGraph(
      [
        makeNode("Gemm", ["input", "w1", "b"], ["h1"], "fc1"),
        makeNode("Gemm", ["input", "w2", "b"], ["h2"], "fc2"),
        makeNode("Add", ["h1", "h2"], ["s"], "sum"),
        makeNode("Add", ["s", "b"], ["y"], "plus_b"),
      ],
      "shared",
      [makeValueInfo("input", DT.FLOAT, [64, 16])],
      [makeValueInfo("y", DT.FLOAT, [])],
      [
        makeTensor("w1", DT.FLOAT, [16, 8], randomWeights(128, 16, n)),
        makeTensor("w2", DT.FLOAT, [16, 8], randomWeights(128, 16, n)),
        makeTensor("b", DT.FLOAT, [8], randomWeights(8, 4, n)),
      ],
    );
    const float = encodeModel(makeModel(graph, { "": 13 }));
    const x = shifted(64 * 16, 6);
    const m = await moments(float, x, [64, 16]);
    const quantize = { bits: 1 };
    const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize })).bytes;
    const corrected = compressModel(decodeModel(float), RecipeSchema.parse({ quantize: { ...quantize, biasCorrection: true, calibration: { dataset: DATASET } } }), undefined, undefined, m);
    const biases = corrected.biasCorrection!.corrected.map((c) => c.bias);
    expect(new Set(biases).size).toBe(2);
    const model = decodeModel(corrected.bytes);
    expect(model.graph!.node.find((nd) => nd.name === "plus_b")!.input).toContain("b");
    expect(model.graph!.initializer.some((t) => t.name === "b")).toBe(true);
    // Both layers keep their float means, so their sum does too.
    const before = await channelMeanError(float, plain, x, [64, 16], 1);
    const after = await channelMeanError(float, corrected.bytes, x, [64, 16], 1);
    for (const e of after.errors) expect(Math.abs(e)).toBeLessThan(1e-5 * after.scale);
    expect(Math.max(...before.errors.map(Math.abs))).toBeGreaterThan(1e-3 * after.scale);
  });

  it("CNN (Conv with pads, Gemm): a bias computed at run time is left, with the reason, and the rest corrected", async () => {
    const float = buildCnn(3);
    const x = shifted(16 * 144, 2);
    const m = await moments(float, x, [16, 1, 12, 12]);
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, granularity: "per-channel", biasCorrection: true, calibration: { dataset: DATASET } } });
    const corrected = compressModel(decodeModel(float), recipe, undefined, undefined, m);
    expect(corrected.biasCorrection!.corrected.map((c) => c.layer).sort()).toEqual(["conv1", "conv2", "fc"]);
    // The same CNN whose fc bias is computed (an Identity of a graph input is no constant).
    const model = decodeModel(float);
    const g = model.graph!;
    const fc = g.node.find((nd) => nd.name === "fc")!;
    const computed = {
      ...model,
      graph: {
        ...g,
        node: [makeNode("Identity", ["fc_bias_in"], ["fc_bias"], "bias_in"), ...g.node.map((nd) => (nd === fc ? { ...nd, input: [nd.input[0]!, nd.input[1]!, "fc_bias"] } : nd))],
        input: [...g.input, makeValueInfo("fc_bias_in", DT.FLOAT, [10])],
      },
    };
    const r = compressModel(computed, recipe, undefined, undefined, m);
    expect(r.biasCorrection!.corrected.map((c) => c.layer).sort()).toEqual(["conv1", "conv2"]);
    expect(r.biasCorrection!.left).toEqual([{ layer: "fc", reason: "its bias 'fc_bias' is computed, not a constant" }]);
  });
});
