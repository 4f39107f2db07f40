import { describe, expect, it } from "vitest";
import { pruneModel, PruneRecipeError } from "@worker/compress/prune";
import { PruneRecipeSchema, RecipeSchema, addressNeedsWeights, canonicalJson, variantRecipe } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { readFloat32 } from "@worker/onnx/tensor";
import { validateModel } from "@worker/onnx/validate";
import { buildCnn, buildFilterbank, buildMlp, randomInput } from "@test/support/models";
import { floatTensor, runReference } from "@test/support/ort-node";

const recipe = (r: Record<string, unknown>) => PruneRecipeSchema.parse(r);
const weight = (bytes: Uint8Array | ReturnType<typeof decodeModel>, name: string) => {
  const model = bytes instanceof Uint8Array ? decodeModel(bytes) : bytes;
  return readFloat32(model.graph!.initializer.find((t) => t.name === name)!);
};
const zeros = (w: Float32Array) => w.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);

// MLP 32 -> 64 -> 64 -> 10: fc0.weight [32,64], fc1.weight [64,64] (MatMul), head.weight [10,64] (Gemm transB=1).
const MLP = () => buildMlp([32, 64, 64, 10], 7);
const WEIGHTS = ["fc0.weight", "fc1.weight", "head.weight"];

describe("pruneModel: unstructured magnitude", () => {
  it("hits a global sparsity within one weight while layers differ, and keeps biases dense", () => {
    const result = pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.5 }));
    validateModel(result.model);
    const total = 32 * 64 + 64 * 64 + 10 * 64;
    const z = WEIGHTS.reduce((n, name) => n + zeros(weight(result.model, name)), 0);
    expect(Math.abs(z - Math.round(0.5 * total))).toBeLessThanOrEqual(1);
    expect(result.sparsity).toBeCloseTo(z / total, 9);
    expect(result.layers.map((l) => l.name)).toEqual(WEIGHTS);
    const per = result.layers.map((l) => l.sparsity);
    expect(Math.max(...per) - Math.min(...per)).toBeGreaterThan(0.01);
    expect(zeros(weight(result.model, "fc0.bias"))).toBe(0);
  });

  it("uses a global threshold: no kept weight anywhere is smaller than a removed one", () => {
    const original = decodeModel(MLP());
    const result = pruneModel(original, recipe({ sparsity: 0.6, scope: "global" }));
    let maxRemoved = 0;
    let minKept = Infinity;
    for (const name of WEIGHTS) {
      const before = weight(original, name);
      const after = weight(result.model, name);
      before.forEach((v, i) => {
        if (after[i] === 0) maxRemoved = Math.max(maxRemoved, Math.abs(v));
        else minKept = Math.min(minKept, Math.abs(v));
      });
    }
    expect(minKept).toBeGreaterThanOrEqual(maxRemoved);
  });

  it("prunes every layer exactly to its own sparsity per layer, with overrides", () => {
    const result = pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.75, scope: "per-layer", overrides: { "fc1/MatMul": 0.9 } }));
    expect(zeros(weight(result.model, "fc0.weight"))).toBe(Math.round(0.75 * 32 * 64));
    expect(zeros(weight(result.model, "fc1.weight"))).toBe(Math.round(0.9 * 64 * 64));
    expect(zeros(weight(result.model, "head.weight"))).toBe(Math.round(0.75 * 640));
    expect(result.layers.find((l) => l.name === "fc1.weight")!.target).toBe(0.9);
  });

  it("takes overridden layers out of the global pool", () => {
    const result = pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.5, overrides: { "head.weight": 0.2 } }));
    expect(zeros(weight(result.model, "head.weight"))).toBe(Math.round(0.2 * 640));
    const pooled = zeros(weight(result.model, "fc0.weight")) + zeros(weight(result.model, "fc1.weight"));
    expect(Math.abs(pooled - Math.round(0.5 * (32 * 64 + 64 * 64)))).toBeLessThanOrEqual(1);
  });

  it("leaves excluded layers byte-identical and says so", () => {
    const original = decodeModel(MLP());
    const result = pruneModel(original, recipe({ sparsity: 0.8, exclude: ["fc1.weight"] }));
    expect(weight(result.model, "fc1.weight")).toEqual(weight(original, "fc1.weight"));
    expect(result.skipped).toContainEqual({ name: "fc1.weight", node: "fc1/MatMul", reason: "excluded by the recipe" });
    expect(result.layers.map((l) => l.name)).toEqual(["fc0.weight", "head.weight"]);
  });

  it("refuses a recipe naming a layer the model does not have", () => {
    expect(() => pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.5, exclude: ["fc9.weight"] }))).toThrow(PruneRecipeError);
  });

  it("gives a model whose outputs onnxruntime-node computes, and the same bytes on every run", async () => {
    const r = recipe({ sparsity: 0.5 });
    const a = encodeModel(pruneModel(decodeModel(MLP()), r).model);
    const b = encodeModel(pruneModel(decodeModel(MLP()), r).model);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    const out = await runReference(a, { input: floatTensor(randomInput(64, 3), [2, 32]) });
    expect(out.logits!.dims).toEqual([2, 10]);
  });
});

// The filterbank model (test/support/models.ts): mel.weight [16,8] of |w| ~ 1e-4, fc.weight [8,64] of |w| in [0.5, 1.5].
// 50% of the 640 weights is 320: a plain global threshold takes all 128 filterbank weights first.
const FILTERBANK = () => buildFilterbank();
/** Indices of a weight's `count` smallest magnitudes (distinct by construction), computed here by sorting. */
const smallest = (w: Float32Array, count: number) =>
  new Set([...w.keys()].sort((a, b) => Math.abs(w[a]!) - Math.abs(w[b]!)).slice(0, count));
const zeroed = (w: Float32Array) => new Set([...w.keys()].filter((i) => w[i] === 0));

describe("pruneModel: the layer cap of global pruning", () => {
  it("caps a layer of tiny weights at 0.95 by default: it keeps its largest, the others make up the target", () => {
    const original = decodeModel(FILTERBANK());
    const result = pruneModel(original, recipe({ sparsity: 0.5 }));
    // floor(0.95 x 128) = 121 removed from mel, its 7 largest kept; 320 - 121 = 199 smallest of fc removed.
    expect(zeroed(weight(result.model, "mel.weight"))).toEqual(smallest(weight(original, "mel.weight"), 121));
    expect(zeroed(weight(result.model, "fc.weight"))).toEqual(smallest(weight(original, "fc.weight"), 199));
    expect(result.sparsity).toBe(320 / 640);
    const [mel, fc] = result.layers;
    expect(mel).toMatchObject({ name: "mel.weight", capped: true, maxSparsity: 0.95, zeros: 121, sparsity: 121 / 128 });
    expect(fc).toMatchObject({ name: "fc.weight", capped: false, maxSparsity: 0.95, zeros: 199 });
    expect(result.warnings).toContainEqual(expect.stringMatching(/^mel\.weight \(mel\/MatMul\): capped at sparsity 0\.95; .* removed 100% of it$/));
    // Keeping 7 of 128 weights still moves most of the filterbank's output, but no longer all of it.
    expect(mel!.outputChange).toBeGreaterThan(0);
    expect(mel!.outputChange).toBeLessThan(1);
  });

  it("without a cap (1) removes the whole filterbank, and flags it: its output changes by exactly 1", () => {
    const result = pruneModel(decodeModel(FILTERBANK()), recipe({ sparsity: 0.5, maxLayerSparsity: 1 }));
    expect(zeros(weight(result.model, "mel.weight"))).toBe(128);
    const mel = result.layers[0]!;
    expect(mel).toMatchObject({ capped: false, sparsity: 1, outputChange: 1 });
    expect(result.warnings).toEqual([
      "mel.weight (mel/MatMul): sparsity 1 is at or above the cap 1",
      "mel.weight (mel/MatMul): output changed by 1 (relative L2 on probe inputs)",
    ]);
  });

  it("takes a per-layer cap by weight or node name over the recipe's", () => {
    const original = decodeModel(FILTERBANK());
    for (const name of ["mel.weight", "mel/MatMul"]) {
      const result = pruneModel(original, recipe({ sparsity: 0.5, maxLayerSparsity: 0.2, maxLayerSparsityOverrides: { [name]: 0.5 } }));
      // mel may lose floor(0.5 x 128) = 64 and fc floor(0.2 x 512) = 102: both caps bind, and 166 of the 320 weights
      // the target asks for is all the caps allow (166 / 640 = 0.2594).
      expect(zeroed(weight(result.model, "mel.weight"))).toEqual(smallest(weight(original, "mel.weight"), 64));
      expect(zeroed(weight(result.model, "fc.weight"))).toEqual(smallest(weight(original, "fc.weight"), 102));
      expect(result.layers.map((l) => [l.maxSparsity, l.capped])).toEqual([[0.5, true], [0.2, true]]);
      expect(result.warnings).toContain("global sparsity 0.5 not met: every layer of the global pool is at its cap, which leaves 0.2594");
    }
  });

  it("recomputes the threshold over the uncapped layers after capping one", () => {
    const original = decodeModel(FILTERBANK());
    const result = pruneModel(original, recipe({ sparsity: 0.5, maxLayerSparsityOverrides: { "mel.weight": 0.5 } }));
    expect(zeroed(weight(result.model, "mel.weight"))).toEqual(smallest(weight(original, "mel.weight"), 64));
    expect(zeroed(weight(result.model, "fc.weight"))).toEqual(smallest(weight(original, "fc.weight"), 256));
    expect(result.warnings.some((w) => w.includes("not met"))).toBe(false);
  });

  it("changes nothing where no layer reaches its cap", () => {
    const capped = encodeModel(pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.6 })).model);
    const uncapped = encodeModel(pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.6, maxLayerSparsity: 1 })).model);
    expect(Buffer.compare(Buffer.from(capped), Buffer.from(uncapped))).toBe(0);
  });

  it("leaves explicit per-layer sparsities above the cap alone, and flags them", () => {
    const result = pruneModel(decodeModel(FILTERBANK()), recipe({ sparsity: 0.97, scope: "per-layer" }));
    expect(zeros(weight(result.model, "mel.weight"))).toBe(Math.round(0.97 * 128));
    expect(result.layers.every((l) => !l.capped)).toBe(true);
    expect(result.warnings).toContain("mel.weight (mel/MatMul): sparsity 0.9688 is at or above the cap 0.95 (set explicitly, not capped)");
  });

  it("refuses a cap naming a layer the model does not have, and says which", () => {
    const r = recipe({ sparsity: 0.5, maxLayerSparsityOverrides: { "mel.wieght": 0.5 } });
    expect(() => pruneModel(decodeModel(FILTERBANK()), r)).toThrow(new PruneRecipeError("prune names 'mel.wieght', which is neither a node nor an initializer of this model"));
  });
});

describe("pruneModel: structured", () => {
  it("2:4 keeps at most 2 non-zeros per 4 along each weight's input axis", () => {
    const result = pruneModel(decodeModel(MLP()), recipe({ structure: { n: 2, m: 4 } }));
    // fc0.weight [K=32, N=64]: groups of 4 consecutive k in each column.
    const w = weight(result.model, "fc0.weight");
    for (let col = 0; col < 64; col++) {
      for (let k = 0; k < 32; k += 4) {
        const nz = [0, 1, 2, 3].filter((j) => w[(k + j) * 64 + col] !== 0).length;
        expect(nz).toBeLessThanOrEqual(2);
      }
    }
    // head.weight [N=10, K=64] (transB=1): groups run along rows.
    const h = weight(result.model, "head.weight");
    for (let row = 0; row < 10; row++) {
      for (let k = 0; k < 64; k += 4) expect([0, 1, 2, 3].filter((j) => h[row * 64 + k + j] !== 0).length).toBeLessThanOrEqual(2);
    }
    for (const l of result.layers) expect(l).toMatchObject({ structure: "2:4", target: 0.5, sparsity: 0.5 });
  });

  it("block [1,16] zeroes whole blocks of 16 consecutive weights", () => {
    const result = pruneModel(decodeModel(MLP()), recipe({ sparsity: 0.75, structure: { block: [1, 16] }, scope: "per-layer" }));
    const w = weight(result.model, "fc1.weight");
    for (let i = 0; i < w.length; i += 16) {
      const z = zeros(w.subarray(i, i + 16));
      expect(z === 0 || z === 16).toBe(true);
    }
    expect(zeros(w)).toBe(0.75 * 64 * 64);
  });

  it("prunes conv weights too, and skips what it cannot prune with a reason", () => {
    const result = pruneModel(decodeModel(buildCnn(3)), recipe({ structure: { n: 2, m: 4 } }));
    // conv1 [8,1,3,3] has one input channel: fewer than m along its input axis.
    expect(result.skipped).toContainEqual(expect.objectContaining({ name: "conv1.weight", reason: expect.stringContaining("fewer than m=4") }));
    expect(result.layers.map((l) => l.name)).toEqual(["conv2.weight", "fc.weight"]);
  });
});

describe("recipe schema", () => {
  it("keeps the canonical form of a quantize-only recipe unchanged", () => {
    expect(canonicalJson(RecipeSchema.parse({ quantize: { bits: 8 } }))).toBe(
      '{"quantize":{"bits":8,"granularity":"per-channel","scheme":"weight-only","symmetric":true}}',
    );
  });

  it("fills prune defaults and sorts exclusions", () => {
    expect(RecipeSchema.parse({ prune: { sparsity: 0.5, exclude: ["b", "a", "b"] } }).prune).toEqual({
      method: "magnitude",
      sparsity: 0.5,
      scope: "global",
      structure: "unstructured",
      norm: "l2",
      overrides: {},
      exclude: ["a", "b"],
    });
  });

  it("addresses a recipe with the default layer cap only where the cap bound (old ids stay where bytes do)", () => {
    const r = RecipeSchema.parse({ prune: { sparsity: 0.5 } });
    const unsaid = '{"prune":{"exclude":[],"method":"magnitude","norm":"l2","overrides":{},"scope":"global","sparsity":0.5,"structure":"unstructured"}}';
    const bound = '{"prune":{"exclude":[],"maxLayerSparsity":0.95,"method":"magnitude","norm":"l2","overrides":{},"scope":"global","sparsity":0.5,"structure":"unstructured"}}';
    expect(addressNeedsWeights(r)).toBe(true);
    expect(canonicalJson(variantRecipe(r, false))).toBe(unsaid);
    expect(canonicalJson(variantRecipe(r, true))).toBe(bound);
    // Saying the default is saying nothing; any other cap is part of the address whether it binds or not.
    const said = RecipeSchema.parse({ prune: { sparsity: 0.5, maxLayerSparsity: 0.95, maxLayerSparsityOverrides: {} } });
    expect(canonicalJson(variantRecipe(said, false))).toBe(unsaid);
    const other = RecipeSchema.parse({ prune: { sparsity: 0.5, maxLayerSparsityOverrides: { "fc.weight": 0.8 } } });
    expect(addressNeedsWeights(other)).toBe(false);
    expect(canonicalJson(variantRecipe(other, false))).toBe(bound.replace('"maxLayerSparsity":0.95,', '"maxLayerSparsity":0.95,"maxLayerSparsityOverrides":{"fc.weight":0.8},'));
    expect(addressNeedsWeights(RecipeSchema.parse({ prune: { sparsity: 0.5, scope: "per-layer" } }))).toBe(false);
  });

  const bad: [string, unknown][] = [
    ["neither prune nor quantize", {}],
    ["a cap above 1", { prune: { sparsity: 0.5, maxLayerSparsity: 1.5 } }],
    ["a cap with scope per-layer", { prune: { sparsity: 0.5, scope: "per-layer", maxLayerSparsity: 0.9 } }],
    ["a per-layer cap with N:M", { prune: { structure: { n: 2, m: 4 }, maxLayerSparsityOverrides: { a: 0.9 } } }],
    ["sparsity above 0.99", { prune: { sparsity: 1 } }],
    ["no sparsity for unstructured", { prune: {} }],
    ["sparsity with N:M", { prune: { sparsity: 0.5, structure: { n: 2, m: 4 } } }],
    ["n >= m", { prune: { structure: { n: 4, m: 4 } } }],
    ["an unknown structure", { prune: { sparsity: 0.5, structure: "rows" } }],
    ["an unknown method", { prune: { sparsity: 0.5, method: "taylor" } }],
  ];
  for (const [what, r] of bad) {
    it(`rejects ${what}`, () => expect(RecipeSchema.safeParse(r).success).toBe(false));
  }
});
