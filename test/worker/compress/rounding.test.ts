// Recipes with rounding 'gptq': their canonical form (nearest is the option's absence, so existing ids stay), what
// the schema refuses, and whole models compressed with Hessians collected by onnxruntime-node: standard ONNX that
// onnxruntime-node runs, deterministic, and closer to FP32 on unseen inputs than nearest rounding.
import { describe, expect, it } from "vitest";
import { compressModel, roundCompensated, type RoundingMemo } from "@worker/compress/pipeline";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { buildCnn, buildMlp, rng } from "@test/support/models";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { floatTensor, runReference } from "@test/support/ort-node";
import { correlated, hessians, meanSquaredError } from "@test/support/hessians";
import { compensatedTargets, diagonalBlocks, HessianAccumulator, hessianBytes, hessianParts, hessianTargets, type HessianTarget } from "@worker/compress/calibrate/hessian";
import { MAX_HESSIAN_BYTES } from "@worker/compress/calibrate/bounds";

const DATASET = "a".repeat(24);
const canonical = (r: unknown) => canonicalJson(RecipeSchema.parse(r));
const issues = (r: unknown) => {
  const p = RecipeSchema.safeParse(r);
  return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("rounding in recipes", () => {
  it("spells 'gptq' and 'adaround' out with their defaults, and leaves 'nearest' out of the canonical form", () => {
    expect(canonical({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } })).toContain(
      '"rounding":{"actOrder":false,"blockInputs":1024,"dampening":0.01,"method":"gptq"}',
    );
    expect(canonical({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } })).toBe(
      canonical({ quantize: { bits: 4, rounding: { method: "gptq", dampening: 0.01 }, calibration: { dataset: DATASET } } }),
    );
    expect(canonical({ quantize: { bits: 8, rounding: "nearest" } })).toBe(canonical({ quantize: { bits: 8 } }));
    expect(canonical({ quantize: { bits: 4, rounding: "nearest" } })).toBe(canonical({ quantize: { bits: 4 } }));
    expect(canonical({ quantize: { bits: 4, rounding: "adaround", calibration: { dataset: DATASET } } })).toBe(
      canonical({ quantize: { bits: 4, rounding: { method: "adaround", iterations: 500, regularization: 10 }, calibration: { dataset: DATASET } } }),
    );
    // blockInputs is spelt out: a recipe of before it (layers over 1024 inputs at nearest) has another id than today's.
    expect(canonical({ quantize: { bits: 4, rounding: "adaround", calibration: { dataset: DATASET } } })).toContain('"blockInputs":1024');
    expect(canonical({ quantize: { bits: 4, rounding: { method: "gptq", blockInputs: 256 }, calibration: { dataset: DATASET } } })).toContain('"blockInputs":256');
    expect(issues({ quantize: { bits: 4, rounding: { method: "gptq", blockInputs: 2048 }, calibration: { dataset: DATASET } } })).toEqual([expect.stringMatching(/^quantize.rounding/)]);
    expect(issues({ quantize: { bits: 4, rounding: { method: "gptq", blockInputs: 32 }, calibration: { dataset: DATASET } } })).toEqual([expect.stringMatching(/^quantize.rounding/)]);
  });

  it("leaves inputs 'float' (the default) out of the canonical form and keeps 'quantized', so ids written before stay", () => {
    const plain = canonical({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } });
    expect(canonical({ quantize: { bits: 4, rounding: { method: "gptq", inputs: "float" }, calibration: { dataset: DATASET } } })).toBe(plain);
    const quantized = canonical({ quantize: { bits: 4, rounding: { method: "gptq", inputs: "quantized" }, calibration: { dataset: DATASET } } });
    expect(quantized).toContain('"inputs":"quantized"');
    expect(canonical({ quantize: { bits: 2, rounding: { method: "adaround", inputs: "quantized" }, calibration: { dataset: DATASET } } })).toContain('"inputs":"quantized"');
    expect(issues({ quantize: { bits: 4, rounding: { method: "gptq", inputs: "int8" }, calibration: { dataset: DATASET } } })).toEqual([expect.stringMatching(/^quantize.rounding/)]);
  });

  it("refuses gptq without calibration, with scheme dynamic, at widths it does not cover, and calibration alone on weight-only", () => {
    expect(issues({ quantize: { bits: 4, rounding: "gptq" } })).toEqual([expect.stringMatching(/^quantize.calibration: rounding 'gptq' needs calibration/)]);
    expect(issues({ quantize: { bits: 8, scheme: "dynamic", rounding: "gptq", calibration: { dataset: DATASET } } })).toContain(
      "quantize.rounding: rounding 'gptq' applies to scheme 'weight-only' and 'static' (dynamic weights are quantized by the integer ops' rewrite)",
    );
    expect(issues({ quantize: { bits: 16, rounding: "gptq", calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { bits: 8, calibration: { dataset: DATASET } } })).toEqual([expect.stringMatching(/^quantize.calibration: calibration applies to scheme 'static', rounding 'gptq' or 'adaround', or biasCorrection/)]);
    expect(issues({ quantize: { bits: 4, rounding: { method: "gptq", dampening: 2 }, calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
    expect(issues({ quantize: { bits: 4, rounding: "adaround" } })).toEqual([expect.stringMatching(/^quantize.calibration: rounding 'adaround' needs calibration/)]);
    expect(issues({ quantize: { bits: 4, rounding: { method: "adaround", iterations: 5000 }, calibration: { dataset: DATASET } } }).length).toBeGreaterThan(0);
  });
});

describe("compressing with GPTQ rounding", () => {
  const sizes = [48, 64, 32, 10];
  const bytes = buildMlp(sizes, 11);
  const calibration = correlated(256, sizes[0]!, 5);
  const unseen = correlated(256, sizes[0]!, 99);

  for (const quantize of [
    { bits: 4, granularity: { block: 16 } },
    { bits: 4, granularity: "per-channel" },
    { bits: 8 },
    { bits: 4, symmetric: false },
    { bits: 2, granularity: { block: 16 } },
    { bits: 1 },
  ]) {
    it(`${JSON.stringify(quantize)}: onnxruntime-node runs it, the bytes repeat, and unseen inputs see less error than nearest`, async () => {
      const h = await hessians(bytes, calibration, [256, sizes[0]!]);
      const nearest = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize })).bytes;
      const recipe = RecipeSchema.parse({ quantize: { ...quantize, rounding: "gptq", calibration: { dataset: DATASET } } });
      const gptq = compressModel(decodeModel(bytes), recipe, undefined, undefined, h);
      expect(gptq.tensors.length).toBe(3);
      expect(gptq.tensors.every((t) => t.bits === quantize.bits && t.compensated === true)).toBe(true);
      expect(gptq.bytes.byteLength).toBe(nearest.byteLength);
      expect(compressModel(decodeModel(bytes), recipe, undefined, undefined, h).bytes).toEqual(gptq.bytes);
      const errNearest = await meanSquaredError(bytes, nearest, unseen, [256, sizes[0]!]);
      const errGptq = await meanSquaredError(bytes, gptq.bytes, unseen, [256, sizes[0]!]);
      console.log(JSON.stringify({ quantize, errNearest, errGptq }));
      expect(errGptq).toBeLessThan(errNearest);
    });
  }

  for (const quantize of [{ bits: 4 }, { bits: 2, granularity: { block: 16 } }, { bits: 1 }]) {
    it(`${JSON.stringify(quantize)}: rounded a part of the layers at a time (each part's Hessians alone), the bytes are those of all at once`, async () => {
      const h = await hessians(bytes, calibration, [256, sizes[0]!]);
      const recipe = RecipeSchema.parse({ quantize: { ...quantize, rounding: "gptq", calibration: { dataset: DATASET } } });
      const whole = compressModel(decodeModel(bytes), recipe, undefined, undefined, h);
      const layers = Object.keys(h);
      expect(layers.length).toBe(3);
      const part = (names: string[]) => Object.fromEntries(names.map((n) => [n, h[n]!]));
      const memo: RoundingMemo = new Map();
      await roundCompensated(decodeModel(bytes), recipe, undefined, part([layers[0]!]), undefined, memo);
      await roundCompensated(decodeModel(bytes), recipe, undefined, part([layers[1]!]), undefined, memo);
      expect([...memo.keys()].length).toBe(2);
      const byParts = compressModel(decodeModel(bytes), recipe, undefined, undefined, part([layers[2]!]), undefined, memo);
      expect(byParts.tensors.every((t) => t.compensated === true)).toBe(true);
      expect(byParts.bytes).toEqual(whole.bytes);
      // Without the remembered roundings the first two layers round to nearest: other bytes.
      expect(compressModel(decodeModel(bytes), recipe, undefined, undefined, part([layers[2]!])).bytes).not.toEqual(whole.bytes);
    });
  }

  it("gives the event loop turns within one wide layer's rounding, and remembers what rounding it at once gives", async () => {
    const wide = buildMlp([512, 192], 3);
    const h = await hessians(wide, correlated(400, 512, 7), [400, 512]);
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } });
    // Turns of the event loop while the rounding runs: a timer that sets itself again each time it fires.
    let turns = 0;
    let running = true;
    const count = () => {
      if (!running) return;
      turns++;
      setTimeout(count, 0);
    };
    setTimeout(count, 0);
    const memo: RoundingMemo = new Map();
    await roundCompensated(decodeModel(wide), recipe, undefined, h, undefined, memo);
    running = false;
    expect(memo.size).toBe(1);
    // One weight: a turn after it, and more between the pieces of its rounding (its three factorizations are pieces).
    expect(turns).toBeGreaterThanOrEqual(4);
    const atOnce = compressModel(decodeModel(wide), recipe, undefined, undefined, h);
    expect(atOnce.tensors.every((t) => t.compensated === true)).toBe(true);
    expect(compressModel(decodeModel(wide), recipe, undefined, undefined, {}, undefined, memo).bytes).toEqual(atOnce.bytes);
  });

  it("needs the Hessians: without them the recipe does not compress as if it had", () => {
    const recipe = RecipeSchema.parse({ quantize: { bits: 4, rounding: "gptq", calibration: { dataset: DATASET } } });
    expect(() => compressModel(decodeModel(bytes), recipe)).toThrow(/needs the calibration Hessians/);
  });
});

describe("Conv Hessians (input patches, one per group)", () => {
  /** A one-node Conv model with the given weight, no bias. */
  function convModel(weight: Float32Array, wdims: number[], inDims: number[], attrs: Record<string, unknown>): Uint8Array {
    const graph = makeGraph(
      [makeNode("Conv", ["input", "w"], ["y"], "conv", attrs as never)],
      "conv",
      [makeValueInfo("input", DT.FLOAT, inDims)],
      [makeValueInfo("y", DT.FLOAT, ["N", "M", "OH", "OW"])],
      [makeTensor("w", DT.FLOAT, wdims, weight)],
    );
    return encodeModel(makeModel(graph, { "": 13 }));
  }

  for (const attrs of [
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 },
    { kernel_shape: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [0, 1, 2, 0], group: 1 },
    { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_UPPER", group: 4 },
  ]) {
    it(`${JSON.stringify(attrs)}: Δᵀ H Δ times the rows is the summed squared output of a Conv with weight Δ (onnxruntime-node)`, async () => {
      const [N, C, H, W] = [2, 4, 7, 6];
      const [kh, kw] = attrs.kernel_shape as [number, number];
      const group = attrs.group;
      const cg = C / group;
      const x = correlated(N * C, H * W, 3);
      // The layer whose Hessians are collected: any weight of the right shape (its values do not enter H).
      const wdims = [group * 2, cg, kh, kw];
      const layer = convModel(new Float32Array(wdims.reduce((a, b) => a * b, 1)).fill(0.1), wdims, [N, C, H, W], attrs);
      const [target] = hessianTargets(decodeModel(layer));
      expect(target).toMatchObject({ features: cg * kh * kw, groups: group });
      const acc = new HessianAccumulator(target!.features, target!.groups);
      acc.observeConv(x, [N, C, H, W], target!.window!);
      const h = acc.matrix();
      const next = rng(7);
      const k = target!.features;
      for (let g = 0; g < group; g++) {
        // Δ: one output channel in group g (the others zero); y = Conv(x, Δ) is that channel's Δ·patch at every position.
        const delta = new Float32Array(wdims.reduce((a, b) => a * b, 1));
        const o = g * 2;
        for (let i = 0; i < k; i++) delta[o * k + i] = next() * 2 - 1;
        const y = (await runReference(convModel(delta, wdims, [N, C, H, W], attrs), { input: floatTensor(x, [N, C, H, W]) })).y!;
        const [, , OH, OW] = y.dims as number[];
        let sum = 0;
        for (let b = 0; b < N; b++) for (let p = 0; p < OH! * OW!; p++) sum += (y.data as Float32Array)[(b * wdims[0]! + o) * OH! * OW! + p]! ** 2;
        let quad = 0;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) quad += delta[o * k + i]! * h[g * k * k + i * k + j]! * delta[o * k + j]!;
        expect(acc.rows).toBe(N * OH! * OW!);
        expect(quad * acc.rows).toBeCloseTo(sum, 3);
      }
    });
  }

  it("GPTQ on a CNN's Conv and Gemm layers: closer to FP32 on unseen inputs than nearest at 4, 2 and 1 bits", async () => {
    const bytes = buildCnn(3);
    const dims = [64, 1, 12, 12];
    const calibration = correlated(64, 144, 21);
    const unseen = correlated(64, 144, 22);
    const h = await hessians(bytes, calibration, dims);
    expect(Object.keys(h).sort()).toEqual(["conv1", "conv2", "fc"]);
    for (const quantize of [{ bits: 4, granularity: "per-channel" }, { bits: 2, granularity: "per-channel" }, { bits: 1 }]) {
      const nearest = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize })).bytes;
      const gptq = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { ...quantize, rounding: "gptq", calibration: { dataset: DATASET } } }), undefined, undefined, h).bytes;
      const [errNearest, errGptq] = [await meanSquaredError(bytes, nearest, unseen, dims), await meanSquaredError(bytes, gptq, unseen, dims)];
      console.log(JSON.stringify({ cnn: quantize, errNearest, errGptq }));
      expect(errGptq, JSON.stringify(quantize)).toBeLessThan(errNearest);
    }
  });
});

describe("Hessians in parts", () => {
  const target = (layer: string, weight: string, features: number, groups = 1): HessianTarget => ({ layer, weight, activation: `${layer}.in`, features, groups, level: 0 });

  it("packs layers in order into parts within the bound, each weight's readers in one part, an oversized weight alone", () => {
    const targets = [target("a", "wa", 16), target("b", "wb", 16), target("c", "wc", 8, 2), target("d", "wshared", 16), target("e", "wshared", 16), target("f", "wf", 32)];
    const bound = hessianBytes([target("x", "x", 16)]) * 2; // two 16-input Hessians
    const parts = hessianParts(targets, bound);
    expect(parts.map((p) => p.map((t) => t.layer))).toEqual([["a", "b"], ["c"], ["d", "e"], ["f"]]);
    for (const p of parts.slice(0, 3)) expect(hessianBytes(p)).toBeLessThanOrEqual(bound);
    expect(hessianBytes(parts[3]!)).toBeGreaterThan(bound); // a 32-input Hessian is past the bound alone: its own part
    expect(hessianParts(targets, hessianBytes(targets))).toEqual([targets]);
    expect(hessianParts([], bound)).toEqual([]);
  });
});

describe("layers wider than a Hessian's inputs (blockInputs, 1024 by default)", () => {
  it("are measured as the fewest equal diagonal blocks of at most 1024 inputs, of 64 or more, within the memory bound", () => {
    expect([1024, 1100, 1568, 3072, 4608, 1031, 1031 * 2].map((f) => diagonalBlocks(f))).toEqual([1, 2, 2, 3, 6, undefined, undefined]);
    const first = (features: number) => {
      const model = decodeModel(buildMlp([features, 4, 2], 1));
      const layer = hessianTargets(model)[0]!.layer;
      return compensatedTargets(model).find((c) => c.layer === layer);
    };
    expect(first(1100)).toMatchObject({ features: 1100, groups: 1, blocks: 2 });
    expect(first(1031)).toBeUndefined(); // a prime number of inputs: no blocks of 64 or more
    expect(first(1000)?.blocks).toBeUndefined();
    // A smaller blockInputs blocks narrower layers: 1000 inputs as 4 blocks of 250 within 256.
    const model = decodeModel(buildMlp([1000, 4, 2], 1));
    expect(compensatedTargets(model, 256)[0]).toMatchObject({ features: 1000, blocks: 4 });
    // VGG's first classifier layer (25088 inputs) takes 28 blocks of 896: 180 MB, past the bound alone, so nearest.
    expect(diagonalBlocks(25088)).toBe(28);
    expect(hessianBytes([{ layer: "fc", weight: "w", activation: "x", features: 25088, groups: 1, blocks: 28, level: 1 }])).toBeGreaterThan(MAX_HESSIAN_BYTES);
  });
});
