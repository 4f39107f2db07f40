// Bias correction: every output channel of a corrected layer gets its float mean back on the calibration inputs
// (measured by onnxruntime-node, the independent executor, on the float model and the variant), whatever the
// layer's form (Gemm, Conv with pads, strides and groups, MatMul with or without the exporter's Add) and whether
// it had a bias; on whole models each measurement takes off what the previous corrections moved downstream; recipes
// name it only when on, and refuse it without calibration.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { biasTargets, ChannelMeans, correctBiasesOnData, type MeasureMeans } from "@worker/compress/bias-correction";
import { withExtraOutputs } from "@worker/onnx/outputs";
import type { ModelProto } from "onnx-buf";
import { zooModel, type Feeds } from "@test/support/zoo";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { normalizeConstants } from "@worker/onnx/constants";
import { buildCnn, buildMlp, randomWeights, rng } from "@test/support/models";
import { floatTensor, runReference } from "@test/support/ort-node";

const DATASET = "b".repeat(24);
const issues = (r: unknown) => {
  const p = RecipeSchema.safeParse(r);
  return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

/** Channel means of each target's output, run by onnxruntime-node on `x`. */
function measureOn(x: Float32Array, dims: number[]): MeasureMeans {
  return async (model, targets) => {
    const out = await runReference(encodeModel(withExtraOutputs(model, targets.map((t) => t.output))), { input: floatTensor(x, dims) });
    return new Map(
      targets.map((t) => {
        const m = new ChannelMeans(t.channels);
        m.observe(out[t.output]!.data as Float32Array, out[t.output]!.dims as number[], t.channelAxis);
        return [t.output, m.means()!];
      }),
    );
  };
}

/** The variant of `float` under `quantize`, its biases corrected on `x` for every layer. */
async function corrected(float: Uint8Array, quantize: Record<string, unknown>, x: Float32Array, dims: number[], maxPasses?: number) {
  const model = decodeModel(float);
  const variant = decodeModel(compressModel(model, RecipeSchema.parse({ quantize })).bytes);
  const layers = new Set(model.graph!.node.map((n) => n.name));
  const r = await correctBiasesOnData(model, variant, layers, measureOn(x, dims), maxPasses);
  return { bytes: encodeModel(r.model), report: r.report, model: r.model as ModelProto };
}

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
});

describe("a corrected layer keeps each channel's float mean on the calibration inputs (onnxruntime-node)", () => {
  for (const layer of LAYERS) {
    for (const quantize of [{ bits: 2, granularity: "per-channel" }, { bits: 1 }, { bits: 4, granularity: "per-channel" }]) {
      it(`${layer.name}, ${JSON.stringify(quantize)}`, async () => {
        const float = layerModel(layer);
        const count = layer.inDims.reduce((a, b) => a * b, 1);
        const x = shifted(count, 5);
        const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize })).bytes;
        const once = await corrected(float, quantize, x, layer.inDims);
        expect(once.report.corrected).toHaveLength(1);
        expect(once.report.left).toEqual([]);
        const hadBias = layer.nodes.length > 1 || layer.nodes[0]!.input.length > 2;
        expect(once.report.corrected[0]!.added).toBe(!hadBias);
        const before = await channelMeanError(float, plain, x, layer.inDims, layer.channelAxis);
        const after = await channelMeanError(float, once.bytes, x, layer.inDims, layer.channelAxis);
        // float32 sums over at most a few hundred products of values below ~10: 1e-5 of the output scale.
        const tolerance = 1e-5 * after.scale;
        for (const e of after.errors) expect(Math.abs(e)).toBeLessThan(tolerance);
        expect(Math.max(...before.errors.map(Math.abs))).toBeGreaterThan(100 * tolerance);
        // Deterministic: the same model, recipe and data give the same bytes.
        expect((await corrected(float, quantize, x, layer.inDims)).bytes).toEqual(once.bytes);
      });
    }
  }
});

describe("bias correction on whole models", () => {
  /** Norm over channels of the logits' mean error against the float model on `x`. */
  async function logitsBias(float: Uint8Array, variant: Uint8Array, x: Float32Array, dims: number[]): Promise<number> {
    const a = (await runReference(float, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
    const b = (await runReference(variant, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
    const s = new Float64Array(10);
    for (let i = 0; i < a.length; i++) s[i % 10] = s[i % 10]! + b[i]! - a[i]!;
    return Math.hypot(...s) / (a.length / 10);
  }

  it("MLP (MatMul + Add, Gemm): layer by layer, the logits get their float means back; corrected together, they do not", async () => {
    const sizes = [32, 48, 24, 10];
    const float = buildMlp(sizes, 3);
    const x = shifted(256 * 32, 8);
    const unseen = shifted(256 * 32, 9);
    const quantize = { bits: 2, granularity: "per-channel" };
    const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize })).bytes;
    const three = await corrected(float, quantize, x, [256, 32]);
    // One pass for all three levels: each layer's shift still holds what the layers before it will take off.
    const together = await corrected(float, quantize, x, [256, 32], 1);
    expect(three.report.corrected.map((c) => c.layer)).toEqual(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]);
    const scale = Math.max(...((await runReference(float, { input: floatTensor(x, [256, 32]) })).logits!.data as Float32Array).map(Math.abs));
    const onCalibration = await Promise.all([plain, three.bytes, together.bytes].map((b) => logitsBias(float, b, x, [256, 32])));
    const onUnseen = await Promise.all([plain, three.bytes].map((b) => logitsBias(float, b, unseen, [256, 32])));
    console.log(JSON.stringify({ scale, onCalibration, onUnseen }));
    expect(onCalibration[1]!).toBeLessThan(1e-5 * scale);
    expect(onCalibration[2]!).toBeGreaterThan(100 * onCalibration[1]!);
    expect(onUnseen[1]!).toBeLessThan(onUnseen[0]! / 2);
    // The original biases are replaced, not kept beside their copies, and each layer reads one corrected bias.
    const names = three.model.graph!.initializer.map((t) => t.name);
    expect(names.filter((n) => /^fc\d\.bias$|^head\.bias$/.test(n))).toEqual([]);
    expect(names.filter((n) => n.includes("bias_corrected"))).toHaveLength(3);
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
    const plain = compressModel(decodeModel(float), RecipeSchema.parse({ quantize: { bits: 1 } })).bytes;
    const r = await corrected(float, { bits: 1 }, x, [64, 16]);
    expect(new Set(r.report.corrected.map((c) => c.bias)).size).toBe(2);
    expect(r.model.graph!.node.find((nd) => nd.name === "plus_b")!.input).toContain("b");
    expect(r.model.graph!.initializer.some((t) => t.name === "b")).toBe(true);
    // Both layers get their float means back, so their sum does too.
    const before = await channelMeanError(float, plain, x, [64, 16], 1);
    const after = await channelMeanError(float, r.bytes, x, [64, 16], 1);
    for (const e of after.errors) expect(Math.abs(e)).toBeLessThan(1e-5 * after.scale);
    expect(Math.max(...before.errors.map(Math.abs))).toBeGreaterThan(1e-3 * after.scale);
  });

  it("CNN (Conv with pads, Gemm): a bias computed at run time is left, with the reason, and the rest corrected", async () => {
    const x = shifted(16 * 144, 2);
    const quantize = { bits: 4, granularity: "per-channel" };
    const whole = await corrected(buildCnn(3), quantize, x, [16, 1, 12, 12]);
    expect(whole.report.corrected.map((c) => c.layer).sort()).toEqual(["conv1", "conv2", "fc"]);
    // The same CNN whose fc bias is computed (the sum of two constants is no constant until run).
    const model = decodeModel(buildCnn(3));
    const g = model.graph!;
    const computed: ModelProto = {
      ...model,
      graph: {
        ...g,
        node: [makeNode("Add", ["fc.bias", "fc.bias"], ["fc_bias"], "bias_sum"), ...g.node.map((nd) => (nd.name === "fc" ? { ...nd, input: [nd.input[0]!, nd.input[1]!, "fc_bias"] } : nd))],
      },
    };
    const r = await corrected(encodeModel(computed), quantize, x, [16, 1, 12, 12]);
    expect(r.report.corrected.map((c) => c.layer).sort()).toEqual(["conv1", "conv2"]);
    expect(r.report.left).toEqual([{ layer: "fc", reason: "its bias 'fc_bias' is computed, not a constant" }]);
  });

  it("leaves a layer whose output gave nothing to measure, saying so, rather than shifting it by the float means", async () => {
    const float = buildMlp([32, 48, 24, 10], 3);
    const model = decodeModel(float);
    const variant = decodeModel(compressModel(model, RecipeSchema.parse({ quantize: { bits: 2 } })).bytes);
    const x = shifted(64 * 32, 8);
    const full = measureOn(x, [64, 32]);
    const blind: MeasureMeans = async (m, targets) => {
      const means = await full(m, targets);
      if (m !== model) means.delete("fc1.pre");
      return means;
    };
    const r = await correctBiasesOnData(model, variant, new Set(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]), blind);
    expect(r.report.corrected.map((c) => c.layer)).toEqual(["fc0/MatMul", "head/Gemm"]);
    expect(r.report.left).toEqual([{ layer: "fc1/MatMul", reason: "its output 'fc1.pre' gave no float values to measure" }]);
  });

  it("corrects only the layers it is given (those the recipe quantized)", async () => {
    const float = buildMlp([32, 48, 24, 10], 3);
    const model = decodeModel(float);
    const variant = decodeModel(compressModel(model, RecipeSchema.parse({ quantize: { bits: 2, exclude: ["head/Gemm"] } })).bytes);
    const x = shifted(64 * 32, 8);
    const r = await correctBiasesOnData(model, variant, new Set(["fc0/MatMul", "fc1/MatMul"]), measureOn(x, [64, 32]));
    expect(r.report.corrected.map((c) => c.layer)).toEqual(["fc0/MatMul", "fc1/MatMul"]);
    expect(r.model.graph!.node.find((nd) => nd.name === "head/Gemm")!.input[2]).toBe("head.bias");
  });
});

describe("levels", () => {
  it("a layer's level is one above the highest corrected layer upstream of it, through branches and joins", () => {
    const n = rng(3);
    const conv = (name: string, x: string, y: string, cin: number, cout: number) => ({
      node: makeNode("Conv", [x, `${name}.w`], [y], name, { kernel_shape: [1, 1] }),
      init: makeTensor(`${name}.w`, DT.FLOAT, [cout, cin, 1, 1], randomWeights(cin * cout, cin, n)),
    });
    const layers = [conv("stem", "input", "a", 3, 4), conv("left", "a", "b", 4, 4), conv("right", "a", "c", 4, 4), conv("after", "d", "e", 4, 2)];
    const graph = makeGraph(
      [layers[0]!.node, makeNode("Relu", ["a"], ["a2"], "relu"), layers[1]!.node, layers[2]!.node, makeNode("Add", ["b", "c"], ["d"], "join"), layers[3]!.node],
      "branches",
      [makeValueInfo("input", DT.FLOAT, [1, 3, 4, 4])],
      [makeValueInfo("e", DT.FLOAT, [])],
      layers.map((l) => l.init),
    );
    const model = makeModel(graph, { "": 13 });
    const all = new Set(["stem", "left", "right", "after"]);
    expect(biasTargets(model, all).map((t) => [t.layer, t.level])).toEqual([["stem", 1], ["left", 2], ["right", 2], ["after", 3]]);
    // A layer left out is no level of its own: what follows it counts from what precedes it.
    expect(biasTargets(model, new Set(["stem", "after"])).map((t) => [t.layer, t.level])).toEqual([["stem", 1], ["after", 2]]);
  });
});

describe("bias correction on other exporters' graphs (the small zoo)", () => {
  /** Channel means of each target's output over `feeds`, by onnxruntime-node. */
  const measureFeeds = (feeds: Feeds[]): MeasureMeans => async (model, targets) => {
    const sums = new Map(targets.map((t) => [t.output, { t, m: new ChannelMeans(t.channels) }]));
    const bytes = encodeModel(withExtraOutputs(model, targets.map((t) => t.output)));
    for (const f of feeds) {
      const out = await runReference(bytes, f);
      for (const [name, { t, m }] of sums) m.observe(out[name]!.data as Float32Array, out[name]!.dims as number[], t.channelAxis);
    }
    return new Map([...sums].map(([name, { m }]) => [name, m.means()!]));
  };
  /** Norm over classes of the logits' mean error against FP32 on `feeds`. */
  async function logitsBias(float: Uint8Array, variant: Uint8Array, feeds: Feeds[]): Promise<number> {
    let sums: Float64Array | null = null;
    let rows = 0;
    for (const f of feeds) {
      const a = (await runReference(float, f)).logits!;
      const b = (await runReference(variant, f)).logits!;
      const classes = (a.dims as number[])[1]!;
      sums ??= new Float64Array(classes);
      for (let i = 0; i < a.data.length; i++) sums[i % classes] = sums[i % classes]! + (b.data as Float32Array)[i]! - (a.data as Float32Array)[i]!;
      rows += a.data.length / classes;
    }
    return Math.hypot(...sums!) / rows;
  }

  for (const name of ["cnn_constants", "resnet18"]) {
    it(`${name}: every quantized Conv and Gemm is corrected and the logits' mean error on the calibration inputs shrinks`, async () => {
      const zoo = await zooModel(name);
      const model = decodeModel(zoo.bytes);
      const feeds = [1, 2, 3, 4].map((seed) => zoo.inputs(seed));
      const plain = compressModel(model, RecipeSchema.parse({ quantize: { bits: 4, granularity: "per-channel" } }));
      const layers = new Set(plain.tensors.map((t) => t.node));
      const r = await correctBiasesOnData(normalizeConstants(model), decodeModel(plain.bytes), layers, measureFeeds(feeds));
      expect(r.report.left).toEqual([]);
      expect(r.report.corrected.map((c) => c.layer).sort()).toEqual([...layers].sort());
      const before = await logitsBias(zoo.bytes, plain.bytes, feeds);
      const after = await logitsBias(zoo.bytes, encodeModel(r.model), feeds);
      console.log(JSON.stringify({ name, layers: layers.size, before, after }));
      expect(after).toBeLessThan(before / 2);
    }, 120_000);
  }
});
