// smooth (SmoothQuant) through POST /v1/models/:id/variants in workerd: a job measures the channel maxima, then the
// ranges of the smoothed model, and the static int8 variant records what it smoothed, serves, and evaluates closer to
// FP32 than the same recipe without smooth on a block whose activations have outlier channels.
import { describe, expect, it } from "vitest";
import { api, expectError, postJson, uploadModel } from "@test/support/api";
import { outlierBlock, OUTLIER_BLOCK_CHANNELS as K, rng } from "@test/support/models";
import { encodeModel } from "@worker/onnx/codec";
import { npy, npz } from "@test/support/npz";

const N = 64;
const T = 8;

async function setup() {
  const model = (await (await uploadModel(encodeModel(outlierBlock(true)))).json()) as { id: string };
  const next = rng(5);
  const x = Float32Array.from({ length: N * T * K }, () => next() * 4 - 2);
  const body = await npz({ input: npy("<f4", [N, T, K], x) }, { compress: true });
  const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
  return { model, dataset };
}

describe("smooth through the API", () => {
  it("makes a static int8 variant in a job that records the smoothed activations and is closer to FP32 than without", async () => {
    const { model, dataset } = await setup();
    const base = { bits: 8, scheme: "static", calibration: { dataset: dataset.id } };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { ...base, smooth: {} }, eval: { dataset: dataset.id } });
    expect(res.status).toBe(201);
    const smoothed = (await res.json()) as Record<string, any>;
    expect(smoothed.recipe.quantize.smooth).toEqual({ alpha: 0.5 });
    expect(smoothed.smoothed.map((s: { activation: string }) => s.activation).sort()).toEqual(["h", "ln"]);
    const plain = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: base, eval: { dataset: dataset.id } })).json()) as Record<string, any>;
    console.log(JSON.stringify({ smoothed: smoothed.eval.outputs[0], plain: plain.eval.outputs[0] }));
    expect(smoothed.eval.outputs[0].cosine).toBeGreaterThan(plain.eval.outputs[0].cosine);
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${smoothed.id}`, { inputs: { input: { type: "float32", dims: [1, T, K], data: Array(T * K).fill(0.5) } } });
    expect(infer.status).toBe(200);
  });

  it("refuses smooth on weight-only (400 invalid_recipe)", async () => {
    const { model, dataset } = await setup();
    const res = await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8, smooth: {}, calibration: { dataset: dataset.id } } });
    expect(await expectError(res)).toMatchObject({ status: 400, code: "invalid_recipe" });
  });
});
