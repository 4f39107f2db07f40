// Recipes for 16, 8, 4, 2 and 1 bits: canonical forms (bits 8 unchanged), the ONNX each writes, and that
// onnxruntime-node runs it close to the fp32 original.
import { describe, expect, it } from "vitest";
import { quantizeModel } from "@worker/compress/quantize";
import { fromHalf, toHalf } from "@worker/onnx/encoding";
import { canonicalJson, RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { defaultOpset } from "@worker/onnx/validate";
import { buildCnn, buildMlp, buildUnliftableMlp, randomInput } from "@test/support/models";
import { maxRelDiff, runReference } from "@test/support/engine";

const canonical = (r: unknown) => canonicalJson(RecipeSchema.parse(r));

describe("recipes", () => {
  it("keeps the canonical form of bits 8 (so existing variant ids stay stable)", () => {
    expect(canonical({ quantize: { bits: 8 } })).toBe('{"quantize":{"bits":8,"granularity":"per-channel","scheme":"weight-only","symmetric":true}}');
  });

  it("fills defaults for 16, 4, 2 and 1 bits", () => {
    expect(canonical({ quantize: { bits: 16 } })).toBe('{"quantize":{"bits":16,"scheme":"weight-only"}}');
    expect(canonical({ quantize: { bits: 4 } })).toBe('{"quantize":{"bits":4,"granularity":{"block":32},"scheme":"weight-only","symmetric":true}}');
    expect(canonical({ quantize: { bits: 2 } })).toBe('{"quantize":{"bits":2,"granularity":{"block":32},"scheme":"weight-only","symmetric":true}}');
    expect(canonical({ quantize: { bits: 1 } })).toBe('{"quantize":{"bits":1,"granularity":"per-channel","scheme":"weight-only","symmetric":true}}');
  });

  it("rejects a bit-width it has no recipe for, and a block that is not a power of two", () => {
    expect(RecipeSchema.safeParse({ quantize: { bits: 3 } }).success).toBe(false);
    expect(RecipeSchema.safeParse({ quantize: { bits: 4, granularity: { block: 48 } } }).success).toBe(false);
  });
});

describe("codebook recipes", () => {
  const errors = (r: unknown) => {
    const parsed = RecipeSchema.safeParse(r);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("fill scope, seed and iterations, with no bits of their own", () => {
    expect(canonical({ quantize: { codebook: { bits: 4 } } })).toBe(
      '{"quantize":{"codebook":{"bits":4,"iterations":1000,"scope":"per-layer","seed":0},"scheme":"weight-only"}}',
    );
  });

  it("take 2 to 8 bits, per layer or per channel", () => {
    expect(errors({ quantize: { codebook: { bits: 2, scope: "per-channel" } } })).toEqual([]);
    expect(errors({ quantize: { codebook: { bits: 9 } } })).toEqual(["quantize.codebook.bits: Too big: expected number to be <=8"]);
    expect(errors({ quantize: { codebook: { bits: 1 } } })).toEqual(["quantize.codebook.bits: Too small: expected number to be >=2"]);
    expect(errors({ quantize: { codebook: { bits: 4, scope: "per-tensor" } } })[0]).toMatch(/^quantize.codebook.scope: /);
  });

  it("say what a quantize part without bits or codebook lacks, and refuse both at once", () => {
    expect(errors({ quantize: {} })).toEqual(["quantize: quantize needs bits (16, 8, 4, 2 or 1), codebook: {bits: 2..8} or pq: {subvector}"]);
    expect(errors({ quantize: { codebook: { bits: 4 }, pq: {} } })).toEqual(["quantize: give codebook or pq, not both"]);
    expect(errors({ quantize: { codebook: { bits: 4 }, calibration: { dataset: "0".repeat(24) } } })).toEqual([
      "quantize.calibration: calibration applies to pq (and to bits recipes), not to codebook",
    ]);
    expect(errors({ quantize: { bits: 4, codebook: { bits: 4 } } })).toEqual(['quantize: Unrecognized key: "codebook"']);
    expect(errors({ quantize: { codebook: { bits: 4 }, overrides: { fc: 8 } } })).toEqual(['quantize: Unrecognized key: "overrides"']);
  });
});

describe("pq recipes", () => {
  it("fill sub-vector 8, 256 centroids, seed 0 and 20 iterations, calibration optional", () => {
    expect(canonical({ quantize: { pq: {} } })).toBe('{"quantize":{"pq":{"centroids":256,"iterations":20,"seed":0,"subvector":8},"scheme":"weight-only"}}');
    expect(RecipeSchema.safeParse({ quantize: { pq: { subvector: 4 }, calibration: { dataset: "0".repeat(24) } } }).success).toBe(true);
    expect(RecipeSchema.safeParse({ quantize: { pq: { subvector: 5 } } }).success).toBe(false);
  });
});

describe("2-bit recipes", () => {
  const issues = (r: unknown) => {
    const p = RecipeSchema.safeParse(r);
    return p.success ? [] : p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("accepts per-channel and power-of-two blocks, and 2 as a per-node override of another width", () => {
    expect(canonical({ quantize: { bits: 2, granularity: "per-channel" } })).toBe(
      '{"quantize":{"bits":2,"granularity":"per-channel","scheme":"weight-only","symmetric":true}}',
    );
    expect(canonical({ quantize: { bits: 2, granularity: { block: 128 } } })).toContain('"granularity":{"block":128}');
    expect(issues({ quantize: { bits: 8, overrides: { fc1: 2 } } })).toEqual([]);
    expect(issues({ quantize: { bits: 2, overrides: { fc1: 8, fc2: 32 } } })).toEqual([]);
  });

  it("rejects a block that is not a power of two or out of range, saying which", () => {
    expect(issues({ quantize: { bits: 2, granularity: { block: 48 } } })).toEqual([expect.stringContaining("block must be a power of two")]);
    expect(issues({ quantize: { bits: 2, granularity: { block: 8 } } })).toEqual([expect.stringMatching(/granularity/)]);
    expect(issues({ quantize: { bits: 2, granularity: "per-tensor" } }).length).toBeGreaterThan(0);
  });

  it("rejects activation schemes, calibration and asymmetric 2-bit", () => {
    expect(issues({ quantize: { bits: 2, scheme: "dynamic" } })).toEqual([expect.stringMatching(/^quantize.scheme: .*weight-only/)]);
    expect(issues({ quantize: { bits: 2, symmetric: false } })).toEqual([expect.stringMatching(/^quantize.symmetric/)]);
    expect(issues({ quantize: { bits: 2, calibration: { dataset: "0".repeat(24) } } }).join()).toMatch(/calibration/);
  });

  it("names the supported widths when an override asks for another", () => {
    expect(issues({ quantize: { bits: 2, overrides: { fc1: 3 } } })).toEqual(["quantize.overrides.fc1: 3 is not a supported bit-width (32, 16, 8, 4, 2, 1)"]);
  });
});

describe("fp16 conversion", () => {
  it("rounds to nearest even and round-trips representable values", () => {
    for (const v of [0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8]) expect(fromHalf(toHalf(v))).toBe(v);
    expect(fromHalf(toHalf(1 + 2 ** -11))).toBe(1); // halfway between 1 and the next half: even is 1
    expect(fromHalf(toHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
  });
});

const x = (n: number, batch: number) => ({ input: { dims: [batch, n], data: Float32Array.from(randomInput(batch * n, 5)) } });

describe("quantizer bit-widths", () => {
  it("16 bits: FLOAT16 weights behind Casts; outputs within 2e-3 of fp32", async () => {
    const bytes = buildMlp([32, 48, 10], 3);
    const result = quantizeModel(decodeModel(bytes), { bits: 16 });
    const g = result.model.graph!;
    expect(g.initializer.filter((t) => t.dataType === DT.FLOAT16)).toHaveLength(2);
    expect(g.node.filter((n) => n.opType === "Cast")).toHaveLength(2);
    const [a, b] = await Promise.all([runReference(encodeModel(result.model), x(32, 3)), runReference(bytes, x(32, 3))]);
    expect(maxRelDiff(a.logits!.data, b.logits!.data)).toBeLessThan(2e-3);
  });

  it("4 bits: lifts an opset-13 MLP to 21 and writes INT4 blocks behind DequantizeLinear(block_size); within 0.15 of fp32", async () => {
    const bytes = buildMlp([64, 48, 10], 3);
    const result = quantizeModel(decodeModel(bytes), { bits: 4, block: 32 });
    const g = result.model.graph!;
    expect(defaultOpset(result.model)).toBe(21);
    expect(g.initializer.filter((t) => t.dataType === DT.INT4)).toHaveLength(2);
    const dq = g.node.filter((n) => n.opType === "DequantizeLinear");
    expect(dq.map((n) => n.attribute.find((a) => a.name === "block_size")?.i)).toEqual([32n, 32n]);
    expect(result.tensors.map((t) => t.bits)).toEqual([4, 4]);
    const [a, b] = await Promise.all([runReference(encodeModel(result.model), x(64, 2)), runReference(bytes, x(64, 2))]);
    expect(maxRelDiff(a.logits!.data, b.logits!.data)).toBeLessThan(0.15);
  });

  it("4 bits: leaves the weights of a model that cannot be lifted to opset 21 float, saying why", () => {
    const result = quantizeModel(decodeModel(buildUnliftableMlp([32, 16, 4], 3)), { bits: 4, block: 32 });
    expect(result.tensors).toHaveLength(0);
    expect(result.skipped.map((s) => s.reason)).toEqual([expect.stringContaining("opset 21"), expect.stringContaining("opset 21")]);
  });

  it("1 bit: INT2 signs (opset 25) with per-channel mean |w| scales; onnxruntime-node computes sign(w) * mean|w|", async () => {
    const bytes = buildCnn(4);
    const result = quantizeModel(decodeModel(bytes), { bits: 1 });
    const g = result.model.graph!;
    expect(defaultOpset(result.model)).toBe(25);
    const signs = g.initializer.filter((t) => t.dataType === DT.INT2);
    expect(signs).toHaveLength(3);
    // Each 2-bit field is 0b01 (+1) or 0b11 (-1), four per byte, the padding of the last byte zero.
    for (const t of signs) {
      const count = t.dims.map(Number).reduce((a, b) => a * b, 1);
      expect(t.rawData.byteLength).toBe(Math.ceil(count / 4));
      for (let i = 0; i < count; i++) expect([1, 3]).toContain((t.rawData[i >> 2]! >> ((i & 3) * 2)) & 3);
    }
    const feeds = { input: { dims: [1, 1, 12, 12], data: Float32Array.from(randomInput(144, 2)) } };
    const out = await runReference(encodeModel(result.model), feeds);
    expect(out.logits!.dims).toEqual([1, 10]);
    expect(result.tensors.every((t) => t.bits === 1 && t.sqnrDb !== null && t.sqnrDb > 0)).toBe(true);
  });
});
