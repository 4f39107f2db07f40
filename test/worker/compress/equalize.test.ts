// Cross-layer range equalization (worker/compress/equalize.ts) against independent references: onnxruntime-node runs
// the original and the equalized FP32 model on seeded inputs (outputs agree within 1e-5 relative, in L2 norm); a single pair's scales against the paper's closed form s_i = sqrt(r1_i / r2_i) computed here; chains
// against the fixed point the sweeps converge to (r1_i = r2_i for every pair), with the ranges read here from the
// weights; the per-channel range spread shrinks; what may not be equalized is left alone; the recipe option changes the
// variant id only when set.
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { beforeAll, describe, expect, it } from "vitest";
import { equalizeModel } from "@worker/compress/equalize";
import { calibratedModel, compressModel } from "@worker/compress/pipeline";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { calibrationTargets, makeCalibrator, type ActivationRanges } from "@worker/compress/calibrate";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { normalizeConstants } from "@worker/onnx/constants";
import { DT } from "@worker/onnx/dtype";
import { edited } from "@worker/onnx/edit";
import { subgraphsOf } from "@worker/onnx/operators";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { makeTensor, readFloat32, tensorDims } from "@worker/onnx/tensor";
import { mlpModel, randomWeights, rng } from "@test/support/models";
import { runNode, type Outputs } from "@test/support/zoo-runs";
import { cosine, zooModels, type Feeds, type ZooModel } from "@test/support/zoo";
import { ort } from "@test/support/ort-node";

/** FP32 equivalence: ||equalized - original|| / ||original|| (L2, per output and input), at most. */
const FP32_TOLERANCE = 1e-5;

function worstRelative(got: Outputs, want: Outputs): number {
  let worst = 0;
  want.forEach((w, i) => {
    for (const [name, ref] of Object.entries(w)) {
      const out = got[i]![name]!;
      let norm = 0;
      let diff = 0;
      for (let j = 0; j < ref.length; j++) {
        norm += ref[j]! * ref[j]!;
        diff += (out[j]! - ref[j]!) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(diff / norm));
    }
  });
  return worst;
}

function initializers(model: ModelProto): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  const visit = (g: NonNullable<ModelProto["graph"]>) => {
    for (const t of g.initializer) out.set(t.name, t);
    for (const n of g.node) for (const s of subgraphsOf(n)) visit(s);
  };
  visit(model.graph!);
  return out;
}

function nodesByLabel(model: ModelProto): Map<string, NodeProto> {
  const out = new Map<string, NodeProto>();
  const visit = (g: NonNullable<ModelProto["graph"]>) => {
    for (const n of g.node) {
      out.set(n.name || n.output[0]!, n);
      for (const s of subgraphsOf(n)) visit(s);
    }
  };
  visit(model.graph!);
  return out;
}

/**
 * A layer's weight as a plain matrix of max |w| per (output channel, input channel) (over the kernel for Conv; 0 where
 * a grouped Conv's output channel does not read the input channel), read directly from the ONNX layout.
 */
function channelMatrix(node: NodeProto, weight: TensorProto): number[][] {
  const dims = tensorDims(weight);
  const w = readFloat32(weight);
  if (node.opType === "Conv") {
    const group = Number(node.attribute.find((a) => a.name === "group")?.i ?? 1n);
    const [m, per] = dims as [number, number];
    const k = w.length / (m * per);
    const rows = Array.from({ length: m }, () => new Array<number>(per * group).fill(0));
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / (m / group));
      for (let p = 0; p < per; p++) for (let j = 0; j < k; j++) rows[o]![g * per + p] = Math.max(rows[o]![g * per + p]!, Math.abs(w[(o * per + p) * k + j]!));
    }
    return rows;
  }
  const transB = node.opType === "Gemm" && node.attribute.some((a) => a.name === "transB" && a.i === 1n);
  const [d0, d1] = dims as [number, number];
  return transB
    ? Array.from({ length: d0 }, (_, o) => Array.from({ length: d1 }, (_, c) => Math.abs(w[o * d1 + c]!)))
    : Array.from({ length: d1 }, (_, o) => Array.from({ length: d0 }, (_, c) => Math.abs(w[c * d1 + o]!)));
}

/** r1 (per output channel of `first`) and r2 (per input channel of `second`), from the model's weights. */
function pairRanges(model: ModelProto, first: string, second: string): { r1: number[]; r2: number[] } {
  const nodes = nodesByLabel(model);
  const inits = initializers(model);
  const a = nodes.get(first)!;
  const b = nodes.get(second)!;
  const m1 = channelMatrix(a, inits.get(a.input[1]!)!);
  const m2 = channelMatrix(b, inits.get(b.input[1]!)!);
  return { r1: m1.map((row) => Math.max(...row)), r2: m2[0]!.map((_, c) => Math.max(...m2.map((row) => row[c]!))) };
}

const spread = (r: number[]) => Math.max(...r) / Math.min(...r.filter((x) => x > 0));
const imbalance = (r1: number[], r2: number[]) => Math.max(...r1.map((x, i) => Math.abs(Math.log(x / r2[i]!))));

function feedsOf(input: string, dims: number[], seed: number): Feeds {
  const next = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return { [input]: new ort.Tensor("float32", Float32Array.from({ length: n }, () => next() * 2 - 1), dims) };
}

/**
 * A small CNN whose channels differ in range by orders of magnitude (as folded BatchNorms leave them), with every op
 * equalization passes: input [N, 8, 8, 8] -> Conv 64 1x1 -> BatchNormalization -> Clip(0, 6) -> depthwise Conv 3x3 ->
 * Relu -> MaxPool 2 -> Conv 48 1x1 (+ bias) -> Relu -> GlobalAveragePool -> Flatten -> Gemm 10 (transB) -> logits.
 */
function unbalancedCnn(): ModelProto {
  const next = rng(11);
  const channelScale = (c: number) => 10 ** ((c % 4) - 1.5);
  const [cin, c1, c2, classes] = [8, 64, 48, 10];
  const pw1 = randomWeights(c1 * cin, cin, next).map((v, i) => v * channelScale(Math.floor(i / cin)));
  const dw = randomWeights(c1 * 9, 9, next).map((v, i) => v * channelScale(Math.floor(i / 9) + 1));
  const pw2 = randomWeights(c2 * c1, c1, next).map((v, i) => v * channelScale(i % c1));
  const inits = [
    makeTensor("pw1.weight", DT.FLOAT, [c1, cin, 1, 1], pw1),
    makeTensor("bn.scale", DT.FLOAT, [c1], Float32Array.from({ length: c1 }, () => 0.5 + next())),
    makeTensor("bn.bias", DT.FLOAT, [c1], Float32Array.from({ length: c1 }, () => next() - 0.3)),
    makeTensor("bn.mean", DT.FLOAT, [c1], Float32Array.from({ length: c1 }, () => (next() - 0.5) * 0.2)),
    makeTensor("bn.var", DT.FLOAT, [c1], Float32Array.from({ length: c1 }, (_, c) => channelScale(c) ** 2 * (0.5 + next()))),
    makeTensor("clip.min", DT.FLOAT, [], Float32Array.of(0)),
    makeTensor("clip.max", DT.FLOAT, [], Float32Array.of(6)),
    makeTensor("dw.weight", DT.FLOAT, [c1, 1, 3, 3], dw),
    makeTensor("dw.bias", DT.FLOAT, [c1], Float32Array.from({ length: c1 }, (_, c) => (next() - 0.5) * channelScale(c + 1))),
    makeTensor("pw2.weight", DT.FLOAT, [c2, c1, 1, 1], pw2),
    makeTensor("pw2.bias", DT.FLOAT, [c2], Float32Array.from({ length: c2 }, () => next() - 0.5)),
    makeTensor("fc.weight", DT.FLOAT, [classes, c2], randomWeights(classes * c2, c2, next)),
    makeTensor("fc.bias", DT.FLOAT, [classes], Float32Array.from({ length: classes }, () => next() - 0.5)),
  ];
  const nodes = [
    makeNode("Conv", ["input", "pw1.weight"], ["c1"], "pw1", { kernel_shape: [1, 1] }),
    makeNode("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["b1"], "bn"),
    makeNode("Clip", ["b1", "clip.min", "clip.max"], ["r1"], "relu6"),
    makeNode("Conv", ["r1", "dw.weight", "dw.bias"], ["c2"], "dw", { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: c1 }),
    makeNode("Relu", ["c2"], ["r2"], "relu2"),
    makeNode("MaxPool", ["r2"], ["p2"], "pool", { kernel_shape: [2, 2], strides: [2, 2] }),
    makeNode("Conv", ["p2", "pw2.weight", "pw2.bias"], ["c3"], "pw2", { kernel_shape: [1, 1] }),
    makeNode("Relu", ["c3"], ["r3"], "relu3"),
    makeNode("GlobalAveragePool", ["r3"], ["g"], "gap"),
    makeNode("Flatten", ["g"], ["f"], "flatten", { axis: 1 }),
    makeNode("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], "fc", { transB: 1 }),
  ];
  const graph = makeGraph(nodes, "unbalanced", [makeValueInfo("input", DT.FLOAT, ["N", cin, 8, 8])], [makeValueInfo("logits", DT.FLOAT, ["N", classes])], inits);
  return makeModel(graph, { "": 13 });
}

/** The model with `change` applied to its main graph. */
function withGraph(model: ModelProto, change: (g: NonNullable<ModelProto["graph"]>) => Partial<NonNullable<ModelProto["graph"]>>): ModelProto {
  return edited(model, { graph: edited(model.graph!, change(model.graph!)) });
}

describe("equalization of one pair against the closed form", () => {
  // input [N, 6] -> MatMul [6, 5] -> Add b -> Relu -> Gemm [5 -> 3] (transB): one pair, which one step equalizes.
  const next = rng(3);
  const rowScale = [100, 0.01, 1, 30, 0.3];
  const w1 = randomWeights(30, 6, next).map((v, i) => v * rowScale[i % 5]!); // [6, 5]: column n is channel n
  const b1 = Float32Array.from({ length: 5 }, (_, n) => (next() - 0.5) * rowScale[n]!);
  const w2 = randomWeights(15, 5, next); // [3, 5]
  const model = makeModel(
    makeGraph(
      [
        makeNode("MatMul", ["input", "w1"], ["mm"], "fc1"),
        makeNode("Add", ["mm", "b1"], ["pre"], "add"),
        makeNode("Relu", ["pre"], ["h"], "relu"),
        makeNode("Gemm", ["h", "w2"], ["out"], "fc2", { transB: 1 }),
      ],
      "pair",
      [makeValueInfo("input", DT.FLOAT, ["N", 6])],
      [makeValueInfo("out", DT.FLOAT, ["N", 3])],
      [makeTensor("w1", DT.FLOAT, [6, 5], w1), makeTensor("b1", DT.FLOAT, [5], b1), makeTensor("w2", DT.FLOAT, [3, 5], w2)],
    ),
  );

  it("divides channel i of the first layer (weight and bias) by sqrt(r1_i / r2_i) and multiplies the second's by it", async () => {
    const r1 = Array.from({ length: 5 }, (_, n) => Math.max(...Array.from({ length: 6 }, (_, k) => Math.abs(w1[k * 5 + n]!))));
    const r2 = Array.from({ length: 5 }, (_, n) => Math.max(...Array.from({ length: 3 }, (_, o) => Math.abs(w2[o * 5 + n]!))));
    const s = r1.map((r, i) => Math.sqrt(r / r2[i]!));
    const { model: out, pairs } = equalizeModel(model);
    expect(pairs).toMatchObject([{ first: "fc1", second: "fc2", through: ["Add", "Relu"], channels: 5 }]);
    const got = initializers(out);
    const close = (a: Float32Array, b: number[]) => a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(b[i]!) + 1e-30));
    close(readFloat32(got.get("w1")!), Array.from(w1, (v, i) => v / s[i % 5]!));
    close(readFloat32(got.get("b1")!), Array.from(b1, (v, n) => v / s[n]!));
    close(readFloat32(got.get("w2")!), Array.from(w2, (v, i) => v * s[i % 5]!));
    // Both layers now share the range sqrt(r1_i * r2_i) per channel.
    const after = pairRanges(out, "fc1", "fc2");
    expect(imbalance(after.r1, after.r2)).toBeLessThan(1e-6);
    expect(spread(after.r1)).toBeLessThan(spread(r1));
    const feeds = [1, 2].map((seed) => feedsOf("input", [4, 6], seed));
    expect(worstRelative(await runNode(encodeModel(out), feeds), await runNode(encodeModel(model), feeds))).toBeLessThan(FP32_TOLERANCE);
  });
});

describe("equalization through BatchNormalization, Clip(0, 6), a depthwise Conv, pools and Flatten", () => {
  const model = unbalancedCnn();
  const { model: out, pairs } = equalizeModel(model);

  it("finds the three pairs, Conv -> depthwise Conv -> Conv -> Gemm", () => {
    expect(pairs.map((p) => [p.first, p.second, p.through.join(",")])).toEqual([
      ["pw1", "dw", "BatchNormalization,Clip"],
      ["dw", "pw2", "Relu,MaxPool"],
      ["pw2", "fc", "Relu,GlobalAveragePool,Flatten"],
    ]);
  });

  it("computes the same in FP32 (onnxruntime-node), with Clip(0, 6) as Relu then a per-channel Min", async () => {
    const ops = out.graph!.node.map((n) => n.opType);
    expect(ops).not.toContain("Clip");
    expect(ops).toContain("Min");
    const feeds = [1, 2, 3].map((seed) => feedsOf("input", [2, 8, 8, 8], seed));
    // Inputs large enough that Clip's upper bound is reached on some channels, so the bound is tested too.
    for (const f of feeds) (f.input!.data as Float32Array).forEach((v, i, a) => (a[i] = v * 50));
    const want = await runNode(encodeModel(model), feeds);
    expect(worstRelative(await runNode(encodeModel(out), feeds), want)).toBeLessThan(FP32_TOLERANCE);
  });

  it("balances every pair (r1_i = r2_i at the fixed point) and shrinks the per-channel range spread", () => {
    for (const p of pairs) {
      const before = pairRanges(model, p.first, p.second);
      const after = pairRanges(out, p.first, p.second);
      expect(imbalance(after.r1, after.r2), `${p.first} -> ${p.second}`).toBeLessThan(1e-3);
      expect(imbalance(before.r1, before.r2)).toBeGreaterThan(1);
      expect(Math.max(spread(after.r1), spread(after.r2))).toBeLessThan(Math.max(spread(before.r1), spread(before.r2)));
    }
  });

  it("gives static int8 per-tensor a smaller error (the case equalization is for)", async () => {
    const feeds = [1, 2, 3, 4].map((seed) => feedsOf("input", [2, 8, 8, 8], seed));
    const want = await runNode(encodeModel(model), feeds);
    const error = async (equalize: boolean) => {
      const recipe = RecipeSchema.parse({
        quantize: { bits: 8, scheme: "static", granularity: "per-tensor", calibration: { dataset: "0".repeat(24) }, ...(equalize ? { equalize } : {}) },
      });
      const calibrated = calibratedModel(model, recipe);
      const ranges = await calibrate(calibrated, feeds);
      const got = await runNode(compressModel(model, recipe, ranges).bytes, feeds);
      return 1 - Math.min(...want.map((w, i) => cosine(got[i]!.logits!, w.logits!)));
    };
    const plain = await error(false);
    const equalized = await error(true);
    expect(equalized).toBeLessThan(plain / 2);
  });
});

/** Activation ranges by onnxruntime-node over the feeds (minmax). */
async function calibrate(model: ModelProto, feeds: Feeds[]): Promise<ActivationRanges> {
  const targets = calibrationTargets(model);
  const exposed = encodeModel(withExtraOutputs(model, targets.filter((t) => t !== "input")));
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator("minmax")]));
  const session = await ort.InferenceSession.create(exposed, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  for (const f of feeds) {
    const out = await session.run(f);
    for (const [t, c] of calibrators) c.observe((t === "input" ? f.input! : out[t]!).data as Float32Array);
  }
  await session.release();
  return Object.fromEntries([...calibrators].map(([t, c]) => [t, c.range()]));
}

describe("what equalization leaves alone", () => {
  const base = mlpModel([8, 6, 4]); // MatMul fc0 -> Add -> Relu -> Gemm head
  const pairsOf = (m: ModelProto) => equalizeModel(m).pairs.length;

  it("equalizes the plain MLP's one pair", () => {
    expect(pairsOf(base)).toBe(1);
  });

  it("leaves a pair whose intermediate tensor is a graph output, or has a second reader", () => {
    expect(pairsOf(withGraph(base, (g) => ({ output: [...g.output, makeValueInfo("fc0.pre", DT.FLOAT, ["N", 6])] })))).toBe(0);
    expect(pairsOf(withGraph(base, (g) => ({ node: [...g.node, makeNode("Identity", ["fc0.out"], ["copy"], "copy")], output: [...g.output, makeValueInfo("copy", DT.FLOAT, ["N", 6])] })))).toBe(0);
  });

  it("leaves a pair with an op between that is not positive-homogeneous (Sigmoid, Clip with min below 0)", () => {
    const swap = (node: NodeProto) => withGraph(base, (g) => ({ node: g.node.map((n) => (n.opType === "Relu" ? node : n)) }));
    expect(pairsOf(swap(makeNode("Sigmoid", ["fc0.pre"], ["fc0.out"], "sigmoid")))).toBe(0);
    const clip = withGraph(swap(makeNode("Clip", ["fc0.pre", "lo", "hi"], ["fc0.out"], "clip")), (g) => ({
      initializer: [...g.initializer, makeTensor("lo", DT.FLOAT, [], Float32Array.of(-1)), makeTensor("hi", DT.FLOAT, [], Float32Array.of(6))],
    }));
    expect(pairsOf(clip)).toBe(0);
  });

  it("leaves a weight another node also reads", () => {
    const shared = withGraph(base, (g) => ({
      node: [...g.node, makeNode("MatMul", ["input", "fc0.weight"], ["again"], "again")],
      output: [...g.output, makeValueInfo("again", DT.FLOAT, ["N", 6])],
    }));
    expect(pairsOf(shared)).toBe(0);
  });

  it("returns the model itself when no pair is found", () => {
    const single = mlpModel([8, 4]);
    expect(equalizeModel(single).model).toBe(single);
  });
});

describe("the recipe option", () => {
  const canonical = (r: unknown) => canonicalJson(RecipeSchema.parse(r));

  it("changes the canonical form (and so the variant id) only when set", () => {
    expect(canonical({ quantize: { bits: 4, equalize: false } })).toBe(canonical({ quantize: { bits: 4 } }));
    expect(canonical({ quantize: { bits: 8, equalize: true } })).toBe(
      '{"quantize":{"bits":8,"equalize":true,"granularity":"per-channel","scheme":"weight-only","symmetric":true}}',
    );
    expect(RecipeSchema.safeParse({ quantize: { bits: 8, equalize: "yes" } }).success).toBe(false);
  });

  it("gives the same bytes with equalize false as without, and deterministic bytes with it", () => {
    const model = unbalancedCnn();
    const without = compressModel(model, RecipeSchema.parse({ quantize: { bits: 8 } })).bytes;
    expect(compressModel(model, RecipeSchema.parse({ quantize: { bits: 8, equalize: false } })).bytes).toEqual(without);
    const once = compressModel(model, RecipeSchema.parse({ quantize: { bits: 8, equalize: true } }));
    expect(once.equalized).toHaveLength(3);
    expect(once.bytes).not.toEqual(without);
    expect(compressModel(decodeModel(encodeModel(model)), RecipeSchema.parse({ quantize: { bits: 8, equalize: true } })).bytes).toEqual(once.bytes);
  });
});

/** The model with every weight (rank >= 2) multiplied by its own seeded 1 + u, |u| <= 2^-24, rounded to float32. */
function roundedOnce(model: ModelProto): ModelProto {
  const next = rng(5);
  const initializer = model.graph!.initializer.map((t) =>
    t.dataType === DT.FLOAT && t.dims.length >= 2 ? makeTensor(t.name, DT.FLOAT, tensorDims(t), readFloat32(t).map((v) => v * (1 + (next() - 0.5) * 2 ** -23))) : t,
  );
  return withGraph(model, () => ({ initializer }));
}

describe("equalization on the small zoo (torch-exported)", () => {
  let zoo: Map<string, ZooModel>;
  beforeAll(async () => {
    zoo = new Map((await zooModels("small")).map((m) => [m.name, m]));
  });

  // At least this many pairs per model: MobileNetV2's expand/depthwise/project chains through Clip(0, 6), ResNet-18's
  // conv1 -> conv2 of each basic block, cnn_if's Conv -> Conv -> MatMul -> MatMul in both If branches, the Constant-node
  // CNN's Conv chain and hidden layers.
  // The FP32 tolerance is 1e-5 but for the small MobileNetV2: untrained and 52 layers deep, it amplifies rounding each
  // weight once to float32 (what any rescaling does) to ~1e-5 by itself. Its bar is the larger of 1e-5 and twice
  // that noise floor, measured here: the same weights each multiplied by 1 + u, |u| <= 2^-24, and rounded.
  const CASES: [string, number, boolean][] = [
    ["mobilenet_v2", 30, true],
    ["resnet18", 8, false],
    ["cnn_if", 6, false],
    ["cnn_constants", 4, false],
  ];

  it.each(CASES)("%s: computes the same in FP32 (onnxruntime-node) and its range spread shrinks", async (name, minPairs, noiseFloor) => {
    const m = zoo.get(name)!;
    const feeds = [1, 2].map((s) => m.inputs(s));
    const original = normalizeConstants(decodeModel(m.bytes));
    const { model, pairs } = equalizeModel(original);
    expect(pairs.length).toBeGreaterThanOrEqual(minPairs);
    const want = await runNode(m.bytes, feeds);
    const deviation = worstRelative(await runNode(encodeModel(model), feeds), want);
    const floor = noiseFloor ? worstRelative(await runNode(encodeModel(roundedOnce(original)), feeds), want) : 0;
    expect(floor).toBeLessThan(FP32_TOLERANCE);
    expect(deviation).toBeLessThan(Math.max(FP32_TOLERANCE, 2 * floor));
    // Over all pairs, the spread of the per-channel ranges both layers share, read from the weights here.
    let before = 0;
    let after = 0;
    for (const p of pairs) {
      const a = pairRanges(original, p.first, p.second);
      const b = pairRanges(model, p.first, p.second);
      before += Math.log(Math.max(spread(a.r1), spread(a.r2)));
      after += Math.log(Math.max(spread(b.r1), spread(b.r2)));
    }
    expect(after).toBeLessThan(before);
  });

  it("transformer: no pair (GELU between the feed-forward layers is not positive-homogeneous), the model unchanged", () => {
    const original = normalizeConstants(decodeModel(zoo.get("transformer")!.bytes));
    expect(equalizeModel(original)).toEqual({ model: original, pairs: [], sweeps: 0 });
  });
});
