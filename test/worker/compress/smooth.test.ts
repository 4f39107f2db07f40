// SmoothQuant: the smoothed float model computes the same (onnxruntime-node), the division goes into a
// LayerNormalization that alone feeds the layers and into a Mul otherwise, and static int8 on activations with outlier
// channels comes much closer to FP32 with it; on the zoo's torch-exported transformer encoder, static int8 with
// smooth keeps an output cosine of at least 0.999 on random token ids. Recipes take it for scheme static only.
import type { ModelProto } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { smoothingScales, smoothingTargets, smoothModel, type ChannelMaxima } from "@worker/compress/smooth";
import { calibratedModel, compressModel, smoothingActivations } from "@worker/compress/pipeline";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { calibrationTargets, makeCalibrator, type ActivationRanges } from "@worker/compress/calibrate";
import { makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { outlierBlock as block, OUTLIER_BLOCK_CHANNELS, rng } from "@test/support/models";
import { ort } from "@test/support/ort-node";
import { runNode, type Outputs } from "@test/support/zoo-runs";
import { cosine, zooModel, type Feeds } from "@test/support/zoo";

const DATASET = "c".repeat(24);
const K = OUTLIER_BLOCK_CHANNELS;

function feeds(seed: number, count = 4): Feeds[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => ({ input: new ort.Tensor("float32", Float32Array.from({ length: 2 * 16 * K }, () => next() * 4 - 2), [2, 16, K]) }));
}

/** Exposes `names` and runs `model` over `feeds` in onnxruntime-node, handing each tensor (inputs included) to `see`. */
async function observe(model: ModelProto, all: Feeds[], names: string[], see: (name: string, data: Float32Array, dims: readonly number[]) => void): Promise<void> {
  const exposed = encodeModel(withExtraOutputs(model, names.filter((n) => !(n in all[0]!))));
  const session = await ort.InferenceSession.create(exposed, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  try {
    for (const f of all) {
      const out = await session.run(f);
      for (const n of names) {
        const t = (n in f ? f[n] : out[n])!;
        if (t.type === "float32") see(n, t.data as Float32Array, t.dims);
      }
    }
  } finally {
    await session.release();
  }
}

/** Channel maxima of the recipe's smoothing activations, measured by onnxruntime-node. */
async function measureMaxima(model: ModelProto, recipe: ReturnType<typeof RecipeSchema.parse>, all: Feeds[]): Promise<ChannelMaxima> {
  const maxima: ChannelMaxima = {};
  await observe(model, all, smoothingActivations(model, recipe), (name, data, dims) => {
    const k = dims[dims.length - 1]!;
    const m = (maxima[name] ??= new Float32Array(k));
    for (let i = 0; i < data.length; i++) m[i % k] = Math.max(m[i % k]!, Math.abs(data[i]!));
  });
  return maxima;
}

async function ranges(model: ModelProto, all: Feeds[]): Promise<ActivationRanges> {
  const targets = calibrationTargets(model);
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator("minmax")]));
  await observe(model, all, targets, (name, data) => calibrators.get(name)!.observe(data));
  return Object.fromEntries([...calibrators].map(([t, c]) => [t, c.range()]));
}

/** Static int8 of `model` (per-channel weights) with and without smooth: the worst output cosine against FP32 on `test`. */
async function staticCosine(model: ModelProto, calibration: Feeds[], test: Feeds[], smooth: boolean): Promise<number> {
  const recipe = RecipeSchema.parse({ quantize: { bits: 8, scheme: "static", calibration: { dataset: DATASET }, ...(smooth ? { smooth: { alpha: 0.5 } } : {}) } });
  const maxima = smooth ? await measureMaxima(calibratedModel(model, recipe), recipe, calibration) : undefined;
  const r = await ranges(calibratedModel(model, recipe, maxima), calibration);
  const variant = compressModel(model, recipe, r, undefined, undefined, maxima);
  if (smooth) expect(variant.smoothed!.length).toBeGreaterThan(0);
  const want = await runNode(encodeModel(model), test);
  const got = await runNode(variant.bytes, test);
  return Math.min(...want.flatMap((w, i) => Object.keys(w).map((name) => cosine(got[i]![name]!, w[name]!))));
}

function worstRelative(got: Outputs, want: Outputs): number {
  let worst = 0;
  want.forEach((w, i) => {
    for (const [name, ref] of Object.entries(w)) {
      const scale = Math.max(...ref.map(Math.abs));
      got[i]![name]!.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref[j]!) / scale)));
    }
  });
  return worst;
}

describe("smooth in recipes", () => {
  it("fills alpha, and applies to scheme static only", () => {
    const parse = (q: unknown) => RecipeSchema.safeParse({ quantize: q });
    expect(canonicalJson(RecipeSchema.parse({ quantize: { bits: 8, scheme: "static", calibration: { dataset: DATASET }, smooth: {} } }))).toContain('"smooth":{"alpha":0.5}');
    expect(parse({ bits: 8, smooth: {} }).error?.issues.map((i) => i.message)).toContain(
      "smooth applies to scheme 'static' (it moves activation ranges into the weights so that static int8 keeps the activations)",
    );
    expect(parse({ bits: 8, scheme: "static", calibration: { dataset: DATASET }, smooth: { alpha: 1.5 } }).success).toBe(false);
    expect(parse({ bits: 4, smooth: {} }).success).toBe(false);
  });
});

describe("smoothing a block with outlier channels", () => {
  const calibration = feeds(1);
  for (const residual of [false, true]) {
    const model = block(residual);
    const where = residual ? "a Mul in front of the projections (the norm also feeds the residual Add)" : "the LayerNormalization's scale and bias";

    it(`${residual ? "post-LN" : "pre-LN"}: the division goes into ${where}, and the float model computes the same`, async () => {
      const recipe = RecipeSchema.parse({ quantize: { bits: 8, scheme: "static", calibration: { dataset: DATASET }, smooth: {} } });
      const maxima = await measureMaxima(model, recipe, calibration);
      expect(Object.keys(maxima).sort()).toEqual(["h", "ln"]);
      const { model: smoothed, smoothed: report } = smoothModel(model, maxima, 0.5);
      const ln = report.find((r) => r.activation === "ln")!;
      expect(ln.layers.sort()).toEqual(["k/MatMul", "q/MatMul"]);
      expect(ln.foldedInto).toBe(residual ? null : "ln");
      expect(smoothed.graph!.node.filter((n) => n.opType === "Mul")).toHaveLength(residual ? 2 : 1);
      // The outlier channels get the largest scales.
      expect(ln.maxScale / ln.minScale).toBeGreaterThan(4);
      const test = feeds(2);
      expect(worstRelative(await runNode(encodeModel(smoothed), test), await runNode(encodeModel(model), test))).toBeLessThan(1e-5);
    });

    it(`${residual ? "post-LN" : "pre-LN"}: static int8 comes much closer to FP32 than without smoothing`, async () => {
      const test = feeds(3);
      const plain = await staticCosine(model, calibration, test, false);
      const smooth = await staticCosine(model, calibration, test, true);
      console.log(JSON.stringify({ residual, plain, smooth }));
      expect(1 - smooth).toBeLessThan((1 - plain) / 2);
    });
  }

  it("s_j balances activation and weight maxima: alpha 0 and 1 are the two extremes, zeros leave a channel as it is", () => {
    const a = Float32Array.of(8, 2, 0, 1);
    const w = Float32Array.of(0.5, 2, 1, 0);
    expect([...smoothingScales(a, w, 0.5)]).toEqual([4, 1, 1, 1]);
    expect([...smoothingScales(a, w, 1)]).toEqual([8, 2, 1, 1]);
    expect([...smoothingScales(a, w, 0)]).toEqual([2, 0.5, 1, 1]);
  });

  it("leaves a group whose weight another layer also reads", () => {
    const model = block(false);
    const g = model.graph!;
    // out/MatMul now reads q.weight's [K, K]... through a shape that fits: a second reader of q.weight.
    const shared: ModelProto = { ...model, graph: { ...g, node: [...g.node, makeNode("MatMul", ["qk", "q.weight"], ["z"], "extra/MatMul")], output: [...g.output, makeValueInfo("z", DT.FLOAT, [])] } };
    expect(smoothingTargets(shared).map((t) => t.activation)).not.toContain("ln");
    expect(smoothingTargets(model).map((t) => t.activation)).toContain("ln");
  });
});

describe("the zoo's transformer encoder (torch.onnx, post-LN)", () => {
  it("static int8 with smooth keeps an output cosine of at least 0.999 on random token ids, against the same without", async () => {
    const zoo = await zooModel("transformer");
    const { decodeModel } = await import("@worker/onnx/codec");
    const model = decodeModel(zoo.bytes);
    const calibration = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => zoo.inputs(s));
    const test = [101, 102, 103].map((s) => zoo.inputs(s));
    const plain = await staticCosine(model, calibration, test, false);
    const smooth = await staticCosine(model, calibration, test, true);
    console.log(JSON.stringify({ transformer: { plain, smooth } }));
    expect(smooth).toBeGreaterThanOrEqual(0.999);
  }, 120_000);
});
