// biasCorrection through POST /v1/models/:id/variants in workerd: a job collects each layer's mean input from the
// calibration dataset, the variant records which biases moved, serves, and evaluates closer to FP32 than the same
// recipe without it; what the schema refuses is a 400 before any job.
import { describe, expect, it } from "vitest";
import { api, expectError, postJson, uploadModel } from "@test/support/api";
import { buildMlp, buildResidualCnn } from "@test/support/models";
import { npy, npz, uniformFloats } from "@test/support/npz";

const SIZES = [16, 48, 32, 4];
const N = 128;

async function setup() {
  const model = (await (await uploadModel(buildMlp(SIZES, 9))).json()) as { id: string };
  // Inputs in [0, 1): a mean far from zero, as images and post-Relu activations have.
  const x = uniformFloats(N * SIZES[0]!, 4);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4));
  const body = await npz({ input: npy("<f4", [N, SIZES[0]!], x), labels: npy("<i8", [N], y) }, { compress: true });
  const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
  return { model, dataset };
}

describe("biasCorrection through the API", () => {
  it("shifts every layer's bias in a job from the dataset's means, and evaluates closer to FP32 than without", async () => {
    const { model, dataset } = await setup();
    const quantize = { bits: 2, granularity: "per-channel" };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
      quantize: { ...quantize, biasCorrection: true, calibration: { dataset: dataset.id } },
      eval: { dataset: dataset.id },
    });
    expect(res.status).toBe(201);
    const corrected = (await res.json()) as Record<string, any>;
    expect(corrected.recipe.quantize.biasCorrection).toBe(true);
    expect(corrected.biasCorrection.corrected.map((c: { layer: string }) => c.layer).sort()).toEqual(["fc0/MatMul", "fc1/MatMul", "head/Gemm"]);
    expect(corrected.biasCorrection.left).toEqual([]);
    const plain = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize, eval: { dataset: dataset.id } })).json()) as Record<string, any>;
    expect(plain.id).not.toBe(corrected.id);
    expect(plain.biasCorrection).toBeUndefined();
    console.log(JSON.stringify({ corrected: corrected.eval.outputs[0], plain: plain.eval.outputs[0] }));
    expect(corrected.eval.outputs[0].cosine).toBeGreaterThan(plain.eval.outputs[0].cosine);
    // The same request finds the stored variant, and it serves.
    const again = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { ...quantize, biasCorrection: true, calibration: { dataset: dataset.id } } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(corrected.id);
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${corrected.id}`, { inputs: { input: { type: "float32", dims: [1, SIZES[0]!], data: Array(SIZES[0]!).fill(0.5) } } });
    expect(infer.status).toBe(200);
  });

  it("corrects a residual CNN, whose passes measure a block's last Conv without its shortcut (onnxruntime-web's layout fusion dropped that output: a 500)", async () => {
    const model = (await (await uploadModel(buildResidualCnn())).json()) as { id: string };
    const rows = 48;
    const x = uniformFloats(rows * 8 * 12 * 12, 5);
    const body = await npz({ input: npy("<f4", [rows, 8, 12, 12], x) }, { compress: true });
    const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { bits: 4, granularity: "per-channel", biasCorrection: true, calibration: { dataset: dataset.id } } });
    expect(res.status).toBe(201);
    const v = (await res.json()) as { biasCorrection: { corrected: { layer: string }[]; left: unknown[] } };
    expect(v.biasCorrection.corrected.map((c) => c.layer).sort()).toEqual(["a", "b", "down", "fc"]);
    expect(v.biasCorrection.left).toEqual([]);
  });

  it("refuses biasCorrection without calibration and with scheme dynamic (400 invalid_recipe), making no job", async () => {
    const { model, dataset } = await setup();
    expect(await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 4, biasCorrection: true } }))).toMatchObject({
      status: 400,
      code: "invalid_recipe",
    });
    const dynamic = await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 8, scheme: "dynamic", biasCorrection: true, calibration: { dataset: dataset.id } } });
    expect(await expectError(dynamic)).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(((await (await api(`/v1/models/${model.id}`)).json()) as { variants: unknown[] }).variants).toEqual([]);
  });
});
