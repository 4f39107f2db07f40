// Quality bar of the accuracy-targeted search on the MNIST reference models, in workerd through the API: with
// maxAccuracyDrop 0.5 (points) and objective "smallest", the winner is at least 6x smaller than FP32.
import { describe, expect, inject, it } from "vitest";
import { api, postJson, uploadModel } from "@test/support/api";

function fixture(file: string): Uint8Array {
  const b64 = inject("fixtures")[file];
  if (!b64) throw new Error(`fixture ${file} was not provided by the global setup`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Top-1 accuracy on the 1000-image subset as the training script measured it with onnxruntime (a fraction). */
function referenceAccuracy(model: string): number {
  const ref = JSON.parse(new TextDecoder().decode(fixture("models/reference.json"))) as {
    models: Record<string, { onnxruntime: { subset_1000: { accuracy: number } } }>;
  };
  return ref.models[model]!.onnxruntime.subset_1000.accuracy;
}

describe("search quality bar on the MNIST reference models", () => {
  for (const name of ["mnist-mlp", "lenet-300-100"]) {
    it(`${name}: maxAccuracyDrop 0.5 finds a variant at least 6x smaller than FP32`, async () => {
      const model = (await (await uploadModel(fixture(`models/${name}.onnx`), { name })).json()) as { id: string; bytes: number };
      const up = await api("/v1/datasets", {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream" },
        body: fixture("data/mnist-test-1000.npz"),
      });
      expect(up.status).toBe(201);
      const dataset = (await up.json()) as { id: string };
      const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
        target: { maxAccuracyDrop: 0.5 },
        objective: "smallest",
        dataset: dataset.id,
      });
      expect(res.status).toBe(200);
      const result = (await res.json()) as Record<string, any>;
      const v = result.variant;
      console.log(
        JSON.stringify({
          model: name,
          met: result.met,
          winner: v?.recipe,
          compressionRatio: v?.compressionRatio,
          accuracy: v?.eval?.accuracy,
          trace: result.trace.map((t: any) => ({ q: t.recipe.quantize, ratio: t.compressionRatio, drop: t.accuracyDrop, ok: t.meetsTarget })),
        }),
      );
      expect(result.met).toBe(true);
      // The evaluator's FP32 accuracy matches the training script's onnxruntime measurement on the same 1000 images.
      expect(v.eval.accuracy.fp32).toBeCloseTo(referenceAccuracy(name), 6);
      expect(v.eval.samples).toBe(1000);
      expect(v.eval.accuracy.drop).toBeLessThanOrEqual(0.5);
      expect(v.compressionRatio).toBeGreaterThanOrEqual(6);
      expect(v.bytes * 6).toBeLessThanOrEqual(model.bytes);
      // Int4 passed at block 32, so the search went on to coarser blocks (fewer scales) while they passed.
      expect(result.trace.some((t: any) => t.recipe.quantize.bits === 4 && t.recipe.quantize.granularity.block > 32)).toBe(true);
      // Mixed precision widens the failing narrow width's sensitive layers to the next width that passed alone (int4),
      // not straight to int8.
      const mixes = result.trace.filter((t: any) => t.recipe.quantize.overrides);
      for (const t of mixes) expect(new Set(Object.values(t.recipe.quantize.overrides))).toEqual(new Set([4]));
      // The stored variant is the one reported, with its evaluation.
      const stored = (await (await api(`/v1/models/${model.id}/variants/${v.id}`)).json()) as Record<string, any>;
      expect(stored.eval.accuracy.drop).toBe(v.eval.accuracy.drop);
    }, 120_000);
  }
});
