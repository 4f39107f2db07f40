// The corpus through onnxruntime-node: re-encoded models compute what the originals compute, and int8 variants
// of the corpus models with MatMul/Gemm/Conv weights stay close to their fp32 outputs.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { quantizeModel, type QuantizeOptions } from "@worker/compress/quantize";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { compareOutputs, ort, runReference } from "@test/support/ort-node";
import { corpusCases, loadFeeds } from "./corpus";

async function tryRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  try {
    return await runReference(bytes, feeds);
  } catch {
    return null;
  }
}

function asNumbers(t: ort.Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

describe("corpus models in onnxruntime-node", () => {
  const cases = corpusCases();

  it("re-encoded models give identical outputs to the originals (every 8th model with test data)", async () => {
    let compared = 0;
    const mismatches: string[] = [];
    for (const c of cases.filter((_, i) => i % 8 === 0)) {
      const bytes = readFileSync(c.model);
      const model = decodeModel(bytes);
      const feeds = loadFeeds(c, model);
      if (!feeds) continue;
      const before = await tryRun(bytes, feeds);
      if (!before) continue; // an op this onnxruntime build does not run
      const after = await runReference(encodeModel(model), feeds);
      for (const [name, t] of Object.entries(before)) {
        const a = after[name];
        if (!a || JSON.stringify(asNumbers(a)) !== JSON.stringify(asNumbers(t))) mismatches.push(`${c.name}:${name}`);
      }
      compared += 1;
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(40);
  });

  // Symmetric per channel (the default) and the other int8 forms a recipe can ask for, which these opset-6 models get as
  // Cast (- zero point) x scale after lifting to 7.
  const forms: { name: string; options: QuantizeOptions }[] = [
    { name: "int8", options: { bits: 8 } },
    { name: "uint8 per-channel with zero points", options: { bits: 8, symmetric: false } },
    { name: "int8 per-tensor", options: { bits: 8, granularity: "per-tensor" } },
  ];
  for (const form of forms) {
    it(`${form.name} variants of corpus models with MatMul/Gemm/Conv weights stay within 5% of the fp32 output range`, async () => {
      const results: { name: string; relative: number }[] = [];
      for (const c of cases) {
        const bytes = readFileSync(c.model);
        const model = decodeModel(bytes);
        const quantized = quantizeModel(model, form.options);
        if (quantized.tensors.length === 0) continue;
        const feeds = loadFeeds(c, model);
        if (!feeds) continue;
        const ref = await tryRun(bytes, feeds);
        if (!ref) continue;
        const got = await runReference(encodeModel(quantized.model), feeds);
        let relative = 0;
        for (const [name, t] of Object.entries(ref)) {
          if (t.type !== "float32") continue;
          const { maxAbsDiff, maxAbsRef } = compareOutputs(got[name]!.data as Float32Array, t.data as Float32Array);
          relative = Math.max(relative, maxAbsRef > 0 ? maxAbsDiff / maxAbsRef : maxAbsDiff);
        }
        results.push({ name: c.name, relative });
      }
      // 28 corpus models (pytorch-converted Conv1d/2d/3d, Linear, operator_conv) carry such weights, all at opset 6.
      expect(results.length).toBeGreaterThanOrEqual(25);
      expect(results.filter((r) => !(r.relative < 0.05))).toEqual([]);
    });
  }
});
