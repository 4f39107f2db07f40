// The model zoo at full size (scripts/zoo/zoo.py --size full: the published architectures) under int8 weight-only,
// int4 and dynamic int8 (and, on the models with layer pairs to equalize, the same with `equalize` and int8 per tensor
// with and without it), made as the catalog makes a variant, against the bar: the whole file ≥ 3.5x smaller
// (int4 6x) and every output's cosine against FP32 ≥ 0.999 (int4 0.99) in onnxruntime-node and onnxruntime-web
// (wasm), each runtime's variant against the same runtime's FP32, batch 1, seed 1 (cnn_if: seeds 1 and 2, one per
// branch). Writes bench/results/zoo.json. Run by `npm run bench -- --only zoo` (a vitest run of this file alone:
// bench/vitest.zoo.config.ts, which npm test does not include). The full zoo is generated once per content of
// zoo.py into .cache/zoo-full/ (bench/full-zoo.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GraphProto, ModelProto } from "onnx-buf";
import { afterAll, describe, expect, it } from "vitest";
import { parseModelBytes } from "@worker/catalog/models";
import { compressModel, NothingToCompressError } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { DT } from "@worker/onnx/dtype";
import { subgraphsOf } from "@worker/onnx/operators";
import { runNode, runWeb, type Outputs } from "@test/support/zoo-runs";
import { cosine, zooModelsIn, type Feeds, type ZooManifest, type ZooModel } from "@test/support/zoo";
import { ensureFullZoo, FULL_ZOO_DIR as DIR } from "./full-zoo";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(ROOT, "bench/results/zoo.json");

const NAMES = ["transformer", "mobilenet_v2", "resnet18", "lstm", "gru", "convtranspose", "tied_embedding", "cnn_if", "cnn_constants"];

/** Models with layer pairs that `equalize` rescales (the others it leaves as they are: no pair, the same bytes). */
const EQUALIZED = ["mobilenet_v2", "resnet18", "convtranspose", "cnn_if", "cnn_constants"];

const RECIPES: { label: string; recipe: object; minRatio: number; minCosine: number; models?: string[] }[] = [
  { label: "int8", recipe: { quantize: { bits: 8 } }, minRatio: 3.5, minCosine: 0.999 },
  { label: "int4", recipe: { quantize: { bits: 4 } }, minRatio: 6, minCosine: 0.99 },
  { label: "dynamic-int8", recipe: { quantize: { bits: 8, scheme: "dynamic" } }, minRatio: 3.5, minCosine: 0.999 },
  // int4 with clipped scales (`scale: "mse"`): the same size, each group's scale at its least squared error.
  { label: "int4 mse", recipe: { quantize: { bits: 4, scale: "mse" } }, minRatio: 6, minCosine: 0.99 },
  // int4 on the asymmetric grid (uint4 with a zero point per scale: 16 levels fitted to each group's range).
  { label: "int4 asymmetric", recipe: { quantize: { bits: 4, symmetric: false } }, minRatio: 6, minCosine: 0.99 },
  // The same recipes with cross-layer equalization, next to the rows above; and int8 with one scale per tensor, the
  // granularity equalization is meant for, with and without it.
  { label: "int8 equalize", recipe: { quantize: { bits: 8, equalize: true } }, minRatio: 3.5, minCosine: 0.999, models: EQUALIZED },
  { label: "int4 equalize", recipe: { quantize: { bits: 4, equalize: true } }, minRatio: 6, minCosine: 0.99, models: EQUALIZED },
  { label: "dynamic-int8 equalize", recipe: { quantize: { bits: 8, scheme: "dynamic", equalize: true } }, minRatio: 3.5, minCosine: 0.999, models: EQUALIZED },
  { label: "int8 per-tensor", recipe: { quantize: { bits: 8, granularity: "per-tensor" } }, minRatio: 3.5, minCosine: 0.999, models: EQUALIZED },
  { label: "int8 per-tensor equalize", recipe: { quantize: { bits: 8, granularity: "per-tensor", equalize: true } }, minRatio: 3.5, minCosine: 0.999, models: EQUALIZED },
];

/** The smallest cosine over every output and seed. */
function worstCosine(got: Outputs, want: Outputs): number {
  let worst = 1;
  want.forEach((w, i) => {
    for (const [name, ref] of Object.entries(w)) worst = Math.min(worst, cosine(got[i]![name]!, ref));
  });
  return worst;
}

/** Bytes of float initializers (FLOAT, FLOAT16) in every graph of a model: what no weight encoding shrank. */
function floatInitializerBytes(model: ModelProto): number {
  let total = 0;
  const visit = (g: GraphProto) => {
    for (const t of g.initializer) {
      if (t.dataType !== DT.FLOAT && t.dataType !== DT.FLOAT16) continue;
      const n = t.dims.reduce((a, d) => a * Number(d), 1);
      total += n * (t.dataType === DT.FLOAT ? 4 : 2);
    }
    for (const n of g.node) for (const s of subgraphsOf(n)) visit(s);
  };
  visit(model.graph!);
  return total;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

interface Row {
  model: string;
  recipe: string;
  fp32Bytes: number;
  variantBytes?: number;
  ratio?: number;
  cosineNode?: number;
  cosineWeb?: number;
  /** The bar of the issue for this recipe, and whether the case meets it (ratio and both cosines). */
  bar: { minRatio: number; minCosine: number };
  meetsBar: boolean;
  quantized?: number;
  /** With `equalize`: the layer pairs it rescaled. */
  equalizedPairs?: number;
  /** Float initializer bytes left in the variant (biases, norms, scales, weights left float). */
  floatBytesLeft?: number;
  skipped?: { name: string; node: string; reason: string }[];
  /** Why no variant was made (a recipe the model cannot take): the reasons its weights were left, once each. */
  refused?: string;
  compressMs?: number;
}

const rows: Row[] = [];
const fp32Agreement: Record<string, number> = {};
const started = Date.now();
let manifest: ZooManifest;
let zoo: Map<string, ZooModel>;

describe.each(NAMES)("%s from the full zoo", (name) => {
  it("compresses under each recipe; cosine against FP32 in onnxruntime-node and -web", async () => {
    manifest ??= ensureFullZoo(NAMES);
    zoo ??= new Map(zooModelsIn(DIR, manifest).map((m) => [m.name, m]));
    const m = zoo.get(name)!;
    const feeds = (name === "cnn_if" ? [1, 2] : [1]).map((s) => m.inputs(s));
    const wantNode = await runNode(m.bytes, feeds);
    const wantWeb = await runWeb(m.bytes, feeds);
    fp32Agreement[name] = round(worstCosine(wantWeb, wantNode), 7);
    for (const c of RECIPES) {
      if (c.models && !c.models.includes(name)) continue;
      const base = { model: name, recipe: c.label, fp32Bytes: m.bytes.byteLength, bar: { minRatio: c.minRatio, minCosine: c.minCosine } };
      const t0 = performance.now();
      let result: ReturnType<typeof compressModel>;
      try {
        result = compressModel(parseModelBytes(m.bytes), RecipeSchema.parse(c.recipe), undefined, m.bytes.byteLength);
      } catch (e) {
        // The reasons the weights were left, once each, with how many: the error also lists the constants no op
        // takes as a weight (biases), which say nothing of the refusal.
        const weights = e instanceof NothingToCompressError ? e.candidates.filter((x) => !x.reason.startsWith("read by")) : [];
        const reasons = weights.length ? [...new Set(weights.map((x) => x.reason))].map((r) => `${r} (${weights.filter((x) => x.reason === r).length} weights)`) : [(e as Error).message];
        rows.push({ ...base, meetsBar: false, refused: reasons.join("; ") });
        console.log(JSON.stringify(rows.at(-1)));
        continue;
      }
      const compressMs = performance.now() - t0;
      const ratio = m.bytes.byteLength / result.bytes.byteLength;
      const cosineNode = worstCosine(await runNode(result.bytes, feeds), wantNode);
      const cosineWeb = worstCosine(await runWeb(result.bytes, feeds), wantWeb);
      rows.push({
        ...base,
        variantBytes: result.bytes.byteLength,
        ratio: round(ratio, 2),
        cosineNode: round(cosineNode, 6),
        cosineWeb: round(cosineWeb, 6),
        meetsBar: ratio >= c.minRatio && cosineNode >= c.minCosine && cosineWeb >= c.minCosine,
        quantized: result.tensors.length,
        ...(result.equalized ? { equalizedPairs: result.equalized.length } : {}),
        floatBytesLeft: floatInitializerBytes(parseModelBytes(result.bytes)),
        skipped: result.skipped.map((s) => ({ name: s.name, node: s.node, reason: s.reason })),
        compressMs: Math.round(compressMs),
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
    // The FP32 original computes the same in both runtimes; otherwise the web cosines measure the runtime.
    expect(fp32Agreement[name]).toBeGreaterThan(0.9999);
  });
});

afterAll(() => {
  if (rows.length === 0) return;
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    zoo: manifest && { size: "full", torch: manifest.torch, torchvision: manifest.torchvision, onnx: manifest.onnx },
    runtimes: { "onnxruntime-node": "single thread, graph optimization basic", "onnxruntime-web": "wasm, single thread, graph optimization basic" },
    inputs: "batch 1, seeded (test/support/zoo.ts seededFeeds), seed 1; cnn_if seeds 1 and 2 (one per branch)",
    fp32WebAgainstNode: fp32Agreement,
    rows,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 1)}\n`);
});
