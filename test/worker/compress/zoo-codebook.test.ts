// Codebook and product-quantization variants of every model of the small zoo (scripts/zoo/zoo.py: real PyTorch
// exports of nine graph families): made as the catalog makes a variant, each loads and runs in onnxruntime-node and
// onnxruntime-web (which agree within 1e-4 relative), keeps every output's cosine against FP32 at the floor below
// (measured, less a margin: these networks are untrained, and PQ without calibration finds no shared structure in
// random weights), and the kernel engine, where it covers the graph, computes what onnxruntime-node computes on the
// variant (1e-4 relative to each output's largest value). A recipe that cannot shrink a model (PQ on recurrent
// weights, which have no matrix-product view) is refused with NothingToCompressError. One JSON line per case.
import { beforeAll, describe, expect, it } from "vitest";
import { parseModelBytes } from "@worker/catalog/models";
import { compressModel, NothingToCompressError } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { maxRelDiff } from "@test/support/engine";
import { runNode, runWeb } from "@test/support/zoo-runs";
import { cosine, zooModels, type ZooModel } from "@test/support/zoo";

const RECIPES = [
  { label: "codebook4", recipe: { quantize: { codebook: { bits: 4 } } } },
  { label: "codebook4-per-channel", recipe: { quantize: { codebook: { bits: 4, scope: "per-channel" } } } },
  { label: "pq8x256", recipe: { quantize: { pq: { subvector: 8, centroids: 256 } } } },
];

/** Cosine floors per model: [codebook4, codebook4 per channel, pq 8x256] (null: the recipe is refused). */
const FLOORS: Record<string, [number, number, number | null]> = {
  mobilenet_v2: [0.55, 0.78, 0.45],
  resnet18: [0.85, 0.92, 0.6],
  transformer: [0.99, 0.99, 0.88],
  lstm: [0.999, 0.998, null],
  gru: [0.995, 0.996, null],
  cnn_constants: [0.99, 0.997, 0.6],
  cnn_if: [0.94, 0.98, 0.65],
  tied_embedding: [0.99, 0.99, 0.96],
  convtranspose: [0.997, 0.997, 0.96],
};
const NAMES = ["mobilenet_v2", "resnet18", "transformer", "lstm", "gru", "cnn_constants", "cnn_if", "tied_embedding", "convtranspose"];

let zoo: Map<string, ZooModel>;
beforeAll(async () => {
  zoo = new Map((await zooModels("small")).map((m) => [m.name, m]));
});

describe.each(NAMES)("%s from the small zoo", (name) => {
  it.each(RECIPES)("$label: loads and runs in onnxruntime-node and -web, and the engine agrees with onnxruntime-node", async (c) => {
    const m = zoo.get(name)!;
    const floor = FLOORS[name]![RECIPES.indexOf(c)]!;
    // Seeds 1 and 2: for cnn_if, whose branch choice cycles with the seed, both branches.
    const feeds = [m.inputs(1), m.inputs(2)];
    const want = await runNode(m.bytes, feeds);
    const make = () => compressModel(parseModelBytes(m.bytes), RecipeSchema.parse(c.recipe), undefined, m.bytes.byteLength);
    if (floor === null) {
      expect(make).toThrow(NothingToCompressError);
      expect(make).toThrow(/not a plain matrix product/);
      return;
    }
    const result = make();
    const node = await runNode(result.bytes, feeds);
    const web = await runWeb(result.bytes, feeds);
    const loaded = createKernelSession(parseModelBytes(result.bytes), plainKernelModule);
    let engine: number | string = loaded.reason ?? "";
    if (loaded.session) {
      // Both seeds: cnn_if's branch is chosen by its int64 input, each value planned for its own.
      engine = 0;
      for (const [i, f] of feeds.entries()) {
        const inputs = Object.fromEntries(Object.entries(f).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: t.data as Float32Array }]));
        const out = await loaded.session.run(inputs);
        engine = Math.max(engine, ...Object.keys(node[i]!).map((k) => maxRelDiff(Float32Array.from(out[k]!.data as ArrayLike<number>), node[i]![k]!)));
      }
    }
    const cosines = Object.fromEntries(Object.keys(want[0]!).map((k) => [k, Number(Math.min(...want.map((w, i) => cosine(node[i]![k]!, w[k]!))).toFixed(6))]));
    console.log(JSON.stringify({ model: name, recipe: c.label, ratio: Number((m.bytes.byteLength / result.bytes.byteLength).toFixed(2)), cosines, engine, kernels: loaded.session ? [...new Set(Object.values(loaded.session.kernels))] : [] }));
    for (let i = 0; i < feeds.length; i++) for (const k of Object.keys(node[i]!)) expect(maxRelDiff(web[i]![k]!, node[i]![k]!), `web ${k}`).toBeLessThan(1e-4);
    for (const v of Object.values(cosines)) expect(v).toBeGreaterThanOrEqual(floor);
    expect(engine).toBeLessThan(1e-4);
  });
});
