// Static int8 with per-tensor weights on a depthwise-separable CNN (test/fixtures/models/SEPARABLE.md: BatchNorm folded
// into the depthwise filters by torch.onnx), in workerd through the API: calibrated on the first 256 Fashion-MNIST
// test images, evaluated on 2000 held-out ones (t10k 1000-2999), without and with equalize and biasCorrection. Prints
// the table docs/quantization.md shows; the bar: at most 0.5 points of drop with both. This small network's folded
// depthwise filters differ by at most 16x in range per channel, so per-tensor int8 does not collapse on it as it
// does on ImageNet MobileNets; the table shows that too.
import { describe, expect, inject, it } from "vitest";
import { api, postJson, uploadModel } from "@test/support/api";
import { FASHION_HELDOUT_FIXTURE } from "@test/support/reference-models";

function fixture(file: string): Uint8Array {
  const b64 = inject("fixtures")[file];
  if (!b64) throw new Error(`fixture ${file} was not provided by the global setup`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function uploadDataset(file: string): Promise<string> {
  const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture(file) });
  expect(up.status).toBe(201);
  return ((await up.json()) as { id: string }).id;
}

type Evaluated = { biasCorrection?: { corrected: unknown[] }; eval: { accuracy: { fp32: number; variant: number; drop: number }; intervals: { accuracyDrop: [number, number] } } };

describe("per-tensor static int8 on a depthwise-separable CNN", () => {
  it("equalize and biasCorrection bring the drop within 0.5 points", async () => {
    const model = ((await (await uploadModel(fixture("models/fashion-separable-cnn.onnx"), { name: "separable" })).json()) as { id: string }).id;
    const calibration = await uploadDataset("data/fashion-test-1000-img.npz");
    const heldout = await uploadDataset(FASHION_HELDOUT_FIXTURE);
    const base = { bits: 8, scheme: "static", granularity: "per-tensor", calibration: { dataset: calibration } };
    const rows: Record<string, unknown>[] = [];
    const drop: Record<string, number> = {};
    for (const [label, extra] of Object.entries({
      "per-tensor": {},
      "per-tensor equalize": { equalize: true },
      "per-tensor biasCorrection": { biasCorrection: true },
      "per-tensor equalize biasCorrection": { equalize: true, biasCorrection: true },
      "per-channel": { granularity: "per-channel" },
    })) {
      const res = await postJson(`/v1/models/${model}/variants?wait=25`, { quantize: { ...base, ...extra }, eval: { dataset: heldout } });
      expect(res.status, label).toBeLessThan(300);
      const v = (await res.json()) as Evaluated;
      drop[label] = v.eval.accuracy.drop;
      rows.push({ recipe: label, fp32: v.eval.accuracy.fp32, accuracy: v.eval.accuracy.variant, drop: v.eval.accuracy.drop, interval: v.eval.intervals.accuracyDrop, corrected: v.biasCorrection?.corrected.length ?? 0 });
    }
    console.log(JSON.stringify({ separable: rows }));
    expect(drop["per-tensor equalize biasCorrection"]!).toBeLessThanOrEqual(0.5);
    // Every convolution and the classifier were corrected: 9 Conv (4 depthwise) and the Gemm.
    expect(rows.find((r) => r.recipe === "per-tensor equalize biasCorrection")!.corrected).toBe(10);
  }, 300_000);
});
