// Rounding 'gptq' through POST /v1/models/:id/variants in workerd: the Hessians are collected from the calibration
// dataset in a job, the variant stores its canonical rounding, serves, and evaluates closer to FP32 than the same
// recipe with nearest rounding on that data (and, measured on quantized inputs, closer than on float ones); a model
// whose Hessians are past the memory bound is rounded a part at a time; what the schema refuses is a 400 before any job.
import { describe, expect, it } from "vitest";
import { api, expectError, pollJob, postJson, uploadModel } from "@test/support/api";
import { buildMlp, randomWeights, rng } from "@test/support/models";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { npy, npz, uniformFloats } from "@test/support/npz";

const SIZES = [16, 48, 32, 4];
const N = 128;

async function setup() {
  const model = (await (await uploadModel(buildMlp(SIZES, 6))).json()) as { id: string };
  const x = uniformFloats(N * SIZES[0]!, 8);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4));
  const body = await npz({ input: npy("<f4", [N, SIZES[0]!], x), labels: npy("<i8", [N], y) }, { compress: true });
  const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
  return { model, dataset };
}

describe("rounding 'gptq' through the API", () => {
  it("makes the variant in a job from the calibration dataset's Hessians, closer to FP32 than nearest rounding", async () => {
    const { model, dataset } = await setup();
    const quantize = { bits: 4, granularity: { block: 16 } };
    const gptqRes = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
      quantize: { ...quantize, rounding: "gptq", calibration: { dataset: dataset.id } },
      eval: { dataset: dataset.id },
    });
    expect(gptqRes.status).toBe(201);
    const gptq = (await gptqRes.json()) as Record<string, any>;
    expect(gptq.recipe.quantize.rounding).toEqual({ method: "gptq", dampening: 0.01, actOrder: false, blockInputs: 1024 });
    const nearest = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize, eval: { dataset: dataset.id } })).json()) as Record<string, any>;
    expect(nearest.id).not.toBe(gptq.id);
    expect(gptq.bytes).toBe(nearest.bytes);
    console.log(JSON.stringify({ gptq: gptq.eval.outputs[0], nearest: nearest.eval.outputs[0] }));
    expect(gptq.eval.outputs[0].cosine).toBeGreaterThan(nearest.eval.outputs[0].cosine);
    // The same request finds the stored variant.
    const again = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { ...quantize, rounding: "gptq", calibration: { dataset: dataset.id } } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(gptq.id);
    // It serves.
    const infer = await postJson(`/v1/models/${model.id}/infer?bits=4`, { inputs: { input: { type: "float32", dims: [1, SIZES[0]!], data: Array(SIZES[0]!).fill(0.5) } } });
    expect(infer.status).toBe(200);
  });

  it("rounding 'adaround': learned up-or-down rounding from the same Hessians, closer to FP32 than nearest rounding", async () => {
    const { model, dataset } = await setup();
    const quantize = { bits: 4, granularity: { block: 16 } };
    const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
      quantize: { ...quantize, rounding: "adaround", calibration: { dataset: dataset.id } },
      eval: { dataset: dataset.id },
    });
    expect(res.status).toBe(201);
    const adaround = (await res.json()) as Record<string, any>;
    expect(adaround.recipe.quantize.rounding).toEqual({ method: "adaround", iterations: 500, regularization: 10, blockInputs: 1024 });
    expect(adaround.tensors.every((t: { compensated?: boolean }) => t.compensated)).toBe(true);
    const nearest = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize, eval: { dataset: dataset.id } })).json()) as Record<string, any>;
    expect(adaround.bytes).toBe(nearest.bytes);
    console.log(JSON.stringify({ adaround: adaround.eval.outputs[0], nearest: nearest.eval.outputs[0] }));
    expect(adaround.eval.outputs[0].cosine).toBeGreaterThan(nearest.eval.outputs[0].cosine);
    const err = await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { ...quantize, rounding: "adaround" } }));
    expect(err).toMatchObject({ status: 400, code: "invalid_recipe" });
    expect(err.message).toMatch(/rounding 'adaround' needs calibration/);
  });

  it("inputs 'quantized': each layer measured behind the quantized layers before it, toward the float outputs, closer to FP32", async () => {
    const { model, dataset } = await setup();
    const results: Record<string, Record<string, any>> = {};
    for (const inputs of ["float", "quantized"] as const) {
      const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
        quantize: { bits: 2, granularity: { block: 16 }, rounding: { method: "gptq", inputs }, calibration: { dataset: dataset.id } },
        eval: { dataset: dataset.id },
      });
      expect(res.status, inputs).toBe(201);
      results[inputs] = (await res.json()) as Record<string, any>;
    }
    const [float, quantized] = [results.float!, results.quantized!];
    // 'float' is the default, left out of the canonical recipe (its id is plain gptq's); 'quantized' is named.
    expect(float.recipe.quantize.rounding).toEqual({ method: "gptq", dampening: 0.01, actOrder: false, blockInputs: 1024 });
    expect(quantized.recipe.quantize.rounding).toEqual({ method: "gptq", dampening: 0.01, actOrder: false, blockInputs: 1024, inputs: "quantized" });
    expect(quantized.id).not.toBe(float.id);
    expect(quantized.bytes).toBe(float.bytes);
    expect(quantized.tensors.every((t: { compensated?: boolean }) => t.compensated)).toBe(true);
    console.log(JSON.stringify({ float: float.eval.outputs[0], quantized: quantized.eval.outputs[0] }));
    expect(quantized.eval.outputs[0].cosine).toBeGreaterThan(float.eval.outputs[0].cosine);
    // Static int8 measures its levels below with their activations quantized too, and serves.
    const staticRes = await postJson(`/v1/models/${model.id}/variants?wait=25`, {
      quantize: { bits: 8, scheme: "static", rounding: { method: "gptq", inputs: "quantized" }, calibration: { dataset: dataset.id } },
    });
    expect(staticRes.status).toBe(201);
    const infer = await postJson(`/v1/models/${model.id}/infer?variant=${((await staticRes.json()) as { id: string }).id}`, { inputs: { input: { type: "float32", dims: [1, SIZES[0]!], data: Array(SIZES[0]!).fill(0.5) } } });
    expect(infer.status).toBe(200);
  });

  it("compensates a layer over 1024 inputs within diagonal blocks, rounds one that has none to nearest, and says which is which", async () => {
    const upload = async (sizes: number[], seed: number) => (await (await uploadModel(buildMlp(sizes, seed))).json()) as { id: string };
    const dataset = async (k: number, seed: number) => {
      const body = await npz({ input: npy("<f4", [64, k], uniformFloats(64 * k, seed)) }, { compress: true });
      return (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
    };
    const compensated = async (model: { id: string }, data: { id: string }, rounding: unknown) => {
      const res = await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize: { bits: 4, rounding, calibration: { dataset: data.id } } });
      expect(res.status).toBe(201);
      const v = (await res.json()) as { tensors: { name: string; compensated?: boolean }[] };
      return Object.fromEntries(v.tensors.map((t) => [t.name, t.compensated ?? false]));
    };
    // 1100 inputs: two blocks of 550. 1031 (a prime): no blocks of 64 or more, so nearest.
    expect(await compensated(await upload([1100, 16, 4], 3), await dataset(1100, 2), "gptq")).toEqual({ "fc0.weight": true, "head.weight": true });
    expect(await compensated(await upload([1031, 16, 4], 3), await dataset(1031, 2), "adaround")).toEqual({ "fc0.weight": false, "head.weight": true });
    // On quantized inputs too, where the wide layer is measured behind the one before it.
    const narrow = await dataset(8, 5);
    expect(await compensated(await upload([8, 1100, 4], 4), narrow, { method: "gptq", inputs: "quantized" })).toEqual({ "fc0.weight": true, "head.weight": true });
    expect(await compensated(await upload([8, 1031, 4], 4), narrow, { method: "gptq", inputs: "quantized" })).toEqual({ "fc0.weight": true, "head.weight": false });
  });

  it("rounds a model whose Hessians in all are past the 32 MiB bound a part at a time, every layer compensated, on float or quantized inputs", async () => {
    // Five MatMuls read one 1024-wide input: five 8 MiB Hessians, 40 MiB in all, measured and rounded in two parts.
    const K = 1024;
    const branches = 5;
    const next = rng(21);
    const nodes = [];
    const inits = [];
    for (let b = 0; b < branches; b++) {
      inits.push(makeTensor(`branch${b}.weight`, DT.FLOAT, [K, 4], randomWeights(K * 4, K, next)));
      nodes.push(makeNode("MatMul", ["input", `branch${b}.weight`], [`branch${b}.out`], `branch${b}/MatMul`));
    }
    nodes.push(makeNode("Sum", [...Array(branches).keys()].map((b) => `branch${b}.out`), ["logits"], "sum"));
    const graph = makeGraph(nodes, "branches", [makeValueInfo("input", DT.FLOAT, ["N", K])], [makeValueInfo("logits", DT.FLOAT, ["N", 4])], inits);
    const model = (await (await uploadModel(encodeModel(makeModel(graph, { "": 13 })))).json()) as { id: string };
    const body = await npz({ input: npy("<f4", [64, K], uniformFloats(64 * K, 6)) }, { compress: true });
    const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body })).json()) as { id: string };
    const quantize = { bits: 4, granularity: { block: 32 } };
    const res = await postJson(`/v1/models/${model.id}/variants`, { quantize: { ...quantize, rounding: "gptq", calibration: { dataset: dataset.id } }, eval: { dataset: dataset.id } });
    expect(res.status).toBe(202);
    const job = await pollJob(res.headers.get("Location")!);
    expect(job.status).toBe("succeeded");
    const v = job.result as Record<string, any>;
    expect(v.tensors.map((t: { compensated?: boolean }) => t.compensated ?? false)).toEqual(Array(branches).fill(true));
    const nearest = (await (await postJson(`/v1/models/${model.id}/variants?wait=25`, { quantize, eval: { dataset: dataset.id } })).json()) as Record<string, any>;
    console.log(JSON.stringify({ parts: v.eval.outputs[0], nearest: nearest.eval.outputs[0] }));
    expect(v.eval.outputs[0].cosine).toBeGreaterThan(nearest.eval.outputs[0].cosine);
    // On quantized inputs too: the one level's five layers are measured beside the float model and rounded in parts.
    const qres = await postJson(`/v1/models/${model.id}/variants`, { quantize: { ...quantize, rounding: { method: "gptq", inputs: "quantized" }, calibration: { dataset: dataset.id } } });
    const qjob = await pollJob(qres.headers.get("Location")!);
    expect(qjob.status).toBe("succeeded");
    expect(qjob.result.tensors.map((t: { compensated?: boolean }) => t.compensated ?? false)).toEqual(Array(branches).fill(true));
  });

  it("refuses gptq without calibration (400 invalid_recipe) and an unknown calibration dataset (404), making no job", async () => {
    const { model } = await setup();
    expect(await expectError(await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 4, rounding: "gptq" } }))).toMatchObject({
      status: 400,
      code: "invalid_recipe",
    });
    const unknown = await postJson(`/v1/models/${model.id}/variants`, { quantize: { bits: 4, rounding: "gptq", calibration: { dataset: "b".repeat(24) } } });
    expect(unknown.status).toBe(404);
    expect(((await (await api(`/v1/models/${model.id}`)).json()) as { variants: unknown[] }).variants).toEqual([]);
  });
});
