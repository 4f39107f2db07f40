// The Open Inference Protocol (KServe V2) beside /v1: server and model endpoints, inference over JSON, the binary
// tensor data extension (inputs, outputs, mixed) and raw bodies, non-float inputs, experiments, and every malformed
// request answered as a 400 {"error"} that names the tensor.
import { SELF } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { SlimserveClient } from "@client/slimserve.js";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { MAX_JSON_BYTES, MAX_TENSOR_BODY_BYTES } from "@worker/routes/body-limits";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { fromHalf, toHalf } from "@formats/half.js";
import { encodeNpy } from "@formats/npy.js";
import { encodeNpz } from "@formats/npz.js";
import { REFERENCE_MODELS } from "@test/support/reference-models";
import { buildMlp } from "@test/support/models";
import { api, postJson, TOKENS, uploadModel } from "@test/support/api";
import { decodeBinaryTensor, encodeBinaryTensor, HEADER_LENGTH_HEADER, joinBinaryBody, splitBinaryBody } from "@formats/inference-v2.js";

// Either engine against onnxruntime-node on the same fp32 graph: float rounding only (as the /v1 tests).
const SAME_GRAPH_TOLERANCE = 1e-4;

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: (number | boolean)[];
  parameters?: { binary_data_size?: number };
}
interface V2Response {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters: Record<string, unknown>;
  outputs: V2Output[];
}

const upload = async (bytes: Uint8Array, name?: string) => ((await (await uploadModel(bytes, { name })).json()) as { id: string }).id;
const makeVariant = async (id: string) => ((await (await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } })).json()) as { id: string }).id;

async function setUpMlp(name?: string) {
  const ref = inject("references").mlp;
  const id = await upload(REFERENCE_MODELS.mlp.build(), name);
  return { ref, id };
}

/** A body of the binary extension: the JSON header, its length in Inference-Header-Content-Length, then the chunks. */
function postBinary(path: string, header: unknown, chunks: Uint8Array[], extra: Record<string, string> = {}) {
  const { body, headerLength } = joinBinaryBody(header, chunks);
  return api(path, { method: "POST", headers: { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(headerLength), ...extra }, body });
}

/** A binary answer's JSON part and each binary output's bytes, in order. */
async function readBinaryAnswer(res: Response) {
  const headerLength = Number(res.headers.get(HEADER_LENGTH_HEADER));
  const { header, binary } = splitBinaryBody(new Uint8Array(await res.arrayBuffer()), headerLength);
  const response = header as V2Response;
  let at = 0;
  const tensors: Record<string, ArrayLike<number | bigint> | string[]> = {};
  for (const o of response.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    tensors[o.name] = decodeBinaryTensor(o.name, o.datatype, o.shape.reduce((a, b) => a * b, 1), binary.subarray(at, at + size));
    at += size;
  }
  expect(at).toBe(binary.byteLength);
  return { response, tensors };
}

async function expectV2Error(res: Response, status: number, ...mentions: string[]) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: unknown };
  expect(typeof body.error).toBe("string");
  for (const m of mentions) expect(body.error).toContain(m);
  return body.error as string;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Non-float inputs: out = Cast(ids INT64) * Cast(mask BOOL) + Cast(pixels UINT8) - Cast(offsets INT32), all [N, 4].
 * Exact in float32 for the small integers used here.
 */
function buildIntegerModel() {
  const nodes = [
    makeNode("Cast", ["ids"], ["ids_f"], "c_ids", { to: DT.FLOAT }),
    makeNode("Cast", ["mask"], ["mask_f"], "c_mask", { to: DT.FLOAT }),
    makeNode("Cast", ["pixels"], ["pixels_f"], "c_pix", { to: DT.FLOAT }),
    makeNode("Cast", ["offsets"], ["offsets_f"], "c_off", { to: DT.FLOAT }),
    makeNode("Mul", ["ids_f", "mask_f"], ["masked"], "mul"),
    makeNode("Add", ["masked", "pixels_f"], ["sum"], "add"),
    makeNode("Sub", ["sum", "offsets_f"], ["out"], "sub"),
  ];
  const graph = makeGraph(
    nodes,
    "integers",
    [makeValueInfo("ids", DT.INT64, ["N", 4]), makeValueInfo("mask", DT.BOOL, ["N", 4]), makeValueInfo("pixels", DT.UINT8, ["N", 4]), makeValueInfo("offsets", DT.INT32, ["N", 4])],
    [makeValueInfo("out", DT.FLOAT, ["N", 4])],
    [],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

const halfW = (i: number) => (((i * 7) % 17) - 8) / 16;

/** A model exported in half precision: x [N, 64] float16 -> MatMul(W [64, 32], float16) -> y. */
function buildHalfModel() {
  const W = makeTensor("W", DT.FLOAT16, [64, 32], Uint16Array.from({ length: 64 * 32 }, (_, i) => toHalf(halfW(i))));
  const graph = makeGraph([makeNode("MatMul", ["x", "W"], ["y"], "fc")], "half", [makeValueInfo("x", DT.FLOAT16, ["N", 64])], [makeValueInfo("y", DT.FLOAT16, ["N", 32])], [W]);
  return encodeModel(makeModel(graph, { "": 13 }));
}

/** buildHalfModel's answer to x [2, 64], in double precision. */
function halfReference(x: number[]): number[] {
  const y: number[] = [];
  for (let r = 0; r < 2; r++) for (let c = 0; c < 32; c++) {
    let s = 0;
    for (let k = 0; k < 64; k++) s += x[r * 64 + k]! * halfW(k * 32 + c);
    y.push(s);
  }
  return y;
}

/** One UINT8 image input [N, 2, 2] to float, doubled: a raw body's model. */
function buildImageModel() {
  const graph = makeGraph(
    [makeNode("Cast", ["image"], ["f"], "cast", { to: DT.FLOAT }), makeNode("Add", ["f", "f"], ["doubled"], "add")],
    "image",
    [makeValueInfo("image", DT.UINT8, ["N", 2, 2])],
    [makeValueInfo("doubled", DT.FLOAT, ["N", 2, 2])],
    [],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

describe("V2 server endpoints", () => {
  it("answers live, ready and server metadata without a token, naming the binary tensor data extension", async () => {
    for (const [path, body] of [
      ["/v2/health/live", { live: true }],
      ["/v2/health/ready", { ready: true }],
      ["/v2", { name: "slimserve", version: "1", extensions: ["binary_tensor_data"] }],
    ] as const) {
      const res = await api(path, { tenant: null });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(body);
    }
  });

  it("refuses model routes without a token as 401 {error}", async () => {
    await expectV2Error(await api("/v2/models/abc", { tenant: null }), 401, "bearer token");
  });
});

describe("V2 model endpoints", () => {
  it("describes a model by id, by its name and by a variant id: V2 datatypes, -1 for symbolic dims, versions", async () => {
    const { id } = await setUpMlp("digits");
    const variant = await makeVariant(id);
    const expected = {
      platform: "onnx",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 784] }],
      outputs: [{ name: "logits", datatype: "FP32", shape: [-1, 10] }],
    };
    for (const name of [id, "digits", variant]) {
      const res = await api(`/v2/models/${name}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ name, versions: ["32", variant], ...expected });
      const ready = await api(`/v2/models/${name}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ name, ready: true });
    }
    expect((await api(`/v2/models/${id}/versions/8/ready`)).status).toBe(200);
    expect((await api(`/v2/models/${id}/versions/${variant}`)).status).toBe(200);
  });

  it("gives non-float signatures their V2 names", async () => {
    const id = await upload(buildIntegerModel());
    const meta = (await (await api(`/v2/models/${id}`)).json()) as { inputs: { name: string; datatype: string }[] };
    expect(meta.inputs.map((i) => [i.name, i.datatype])).toEqual([["ids", "INT64"], ["mask", "BOOL"], ["pixels", "UINT8"], ["offsets", "INT32"]]);
  });

  it("answers an unknown model, variant-less bit-width or bad version with {error} and the protocol's statuses", async () => {
    const { id } = await setUpMlp();
    await expectV2Error(await api("/v2/models/no-such-model"), 404, "no-such-model");
    await expectV2Error(await api("/v2/models/ffffffffffffffffffffffff/ready"), 404, "ffffffffffffffffffffffff");
    await expectV2Error(await api(`/v2/models/${id}/versions/4/ready`), 404, "4-bit");
    await expectV2Error(await api(`/v2/models/${id}/versions/latest`), 400, "latest");
  });

  it("keeps tenants apart: another tenant's model is a 404", async () => {
    const { id } = await setUpMlp();
    await expectV2Error(await api(`/v2/models/${id}`, { tenant: "beta" }), 404);
  });
});

describe("POST /v2/models/{model}/infer", () => {
  it("serves JSON requests with the same outputs as onnxruntime-node and as /v1, by id, name and version", async () => {
    const { ref, id } = await setUpMlp("digits");
    const variant = await makeVariant(id);
    const request = { id: "req-1", inputs: [{ name: "input", shape: ref.dims, datatype: "FP32", data: ref.input }] };
    const res = await postJson(`/v2/models/digits/infer`, request);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("application/json");
    expect(res.headers.get("Server-Timing")).toMatch(/run;dur=/);
    const fp32 = (await res.json()) as V2Response;
    expect(fp32).toMatchObject({ model_name: "digits", model_version: "32", id: "req-1", parameters: { model: id, bits: 32, variant: null } });
    expect(fp32.outputs).toHaveLength(1);
    expect(fp32.outputs[0]).toMatchObject({ name: "logits", datatype: "FP32", shape: [ref.dims[0], 10] });
    expect(maxAbsDiff(fp32.outputs[0]!.data as number[], ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);

    const v1 = (await (await postJson(`/v1/models/${id}/infer?bits=8`, { inputs: { input: { type: "float32", dims: ref.dims, data: ref.input } } })).json()) as {
      outputs: { logits: { data: number[] } };
    };
    for (const path of [`/v2/models/${id}/versions/8/infer`, `/v2/models/${id}/versions/${variant}/infer`, `/v2/models/${variant}/infer`]) {
      const int8 = (await (await postJson(path, request)).json()) as V2Response;
      expect(int8).toMatchObject({ model_version: variant, parameters: { bits: 8, variant } });
      expect(int8.outputs[0]!.data).toEqual(v1.outputs.logits.data);
    }
  });

  it("accepts nested row-major JSON data", async () => {
    const { ref, id } = await setUpMlp();
    const rows = [ref.input.slice(0, 784), ref.input.slice(784, 1568)];
    const res = await postJson(`/v2/models/${id}/infer`, { inputs: [{ name: "input", shape: [2, 784], datatype: "FP32", data: rows }] });
    expect(res.status).toBe(200);
    const out = (await res.json()) as V2Response;
    expect(maxAbsDiff(out.outputs[0]!.data as number[], ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);
  });

  it("reads binary inputs after the JSON header and returns binary outputs when asked (binary_data_output)", async () => {
    const { ref, id } = await setUpMlp();
    const input = encodeBinaryTensor("FP32", ref.input);
    const header = { inputs: [{ name: "input", shape: ref.dims, datatype: "FP32", parameters: { binary_data_size: input.byteLength } }], parameters: { binary_data_output: true } };
    const res = await postBinary(`/v2/models/${id}/infer`, header, [input]);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/octet-stream");
    const { response, tensors } = await readBinaryAnswer(res);
    expect(response.outputs[0]).toMatchObject({ name: "logits", datatype: "FP32", shape: [2, 10], parameters: { binary_data_size: 80 } });
    expect(response.outputs[0]!.data).toBeUndefined();
    expect(maxAbsDiff(tensors.logits as Float32Array, ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);
  });

  it("reads a header-only binary request (binary input, JSON output) and per-output binary_data", async () => {
    const { ref, id } = await setUpMlp();
    const input = encodeBinaryTensor("FP32", ref.input);
    const header = { inputs: [{ name: "input", shape: ref.dims, datatype: "FP32", parameters: { binary_data_size: input.byteLength } }] };
    const json = (await (await postBinary(`/v2/models/${id}/infer`, header, [input])).json()) as V2Response;
    expect(maxAbsDiff(json.outputs[0]!.data as number[], ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);

    const asked = await postBinary(`/v2/models/${id}/infer`, { ...header, outputs: [{ name: "logits", parameters: { binary_data: true } }] }, [input]);
    const { tensors } = await readBinaryAnswer(asked);
    expect(Array.from(tensors.logits as Float32Array)).toEqual(json.outputs[0]!.data);
  });

  it("takes INT64, BOOL, UINT8 and INT32 inputs, mixing JSON and binary ones in one request", async () => {
    const id = await upload(buildIntegerModel());
    const ids = [1, 2, 3, 4, 5, 6, 7, 8];
    const mask = [true, false, true, true, false, false, true, false];
    const pixels = [0, 255, 10, 20, 30, 40, 50, 60];
    const offsets = [-1, 0, 1, 2, 3, 4, 5, 100000];
    const expected = ids.map((v, i) => v * (mask[i] ? 1 : 0) + pixels[i]! - offsets[i]!);
    const idsBin = encodeBinaryTensor("INT64", ids);
    const maskBin = encodeBinaryTensor("BOOL", mask);
    expect(Array.from(maskBin)).toEqual([1, 0, 1, 1, 0, 0, 1, 0]);
    const header = {
      inputs: [
        { name: "ids", shape: [2, 4], datatype: "INT64", parameters: { binary_data_size: idsBin.byteLength } },
        { name: "pixels", shape: [2, 4], datatype: "UINT8", data: pixels },
        { name: "mask", shape: [2, 4], datatype: "BOOL", parameters: { binary_data_size: maskBin.byteLength } },
        { name: "offsets", shape: [2, 4], datatype: "INT32", data: offsets },
      ],
    };
    const res = await postBinary(`/v2/models/${id}/infer`, header, [idsBin, maskBin]);
    expect(res.status).toBe(200);
    expect(((await res.json()) as V2Response).outputs[0]!.data).toEqual(expected);

    // All JSON over V2, and the same tensors over /v1.
    const allJson = header.inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: { ids, mask, pixels, offsets }[t.name] }));
    expect(((await (await postJson(`/v2/models/${id}/infer`, { inputs: allJson })).json()) as V2Response).outputs[0]!.data).toEqual(expected);
    const v1 = await postJson(`/v1/models/${id}/infer`, {
      inputs: { ids: { type: "int64", dims: [2, 4], data: ids }, mask: { type: "bool", dims: [2, 4], data: mask }, pixels: { type: "uint8", dims: [2, 4], data: pixels }, offsets: { type: "int32", dims: [2, 4], data: offsets } },
    });
    expect(v1.status).toBe(200);
    expect(((await v1.json()) as { outputs: { out: { data: number[] } } }).outputs.out.data).toEqual(expected);
  });

  it("serves a float16 model: FP16 as half bits in binary and as numbers in JSON and /v1, and its int8 variant on the kernel engine", async () => {
    const id = await upload(buildHalfModel());
    const x = Array.from({ length: 2 * 64 }, (_, i) => ((i * 5) % 11) / 8 - 0.625);
    const want = halfReference(x);
    const bits = Uint16Array.from(x, toHalf);
    const header = { inputs: [{ name: "x", shape: [2, 64], datatype: "FP16", parameters: { binary_data_size: bits.byteLength } }], parameters: { binary_data_output: true } };
    const res = await postBinary(`/v2/models/${id}/infer`, header, [new Uint8Array(bits.buffer)]);
    expect(res.status).toBe(200);
    const { response, tensors } = await readBinaryAnswer(res);
    expect(response.outputs[0]!.datatype).toBe("FP16");
    const tolerance = 0.01 * Math.max(...want.map(Math.abs));
    expect(maxAbsDiff(Array.from(tensors.y as Uint16Array, fromHalf), want)).toBeLessThan(tolerance);
    const json = (await (await postJson(`/v2/models/${id}/infer`, { inputs: [{ name: "x", shape: [2, 64], datatype: "FP16", data: x }] })).json()) as V2Response;
    expect(maxAbsDiff(json.outputs[0]!.data as number[], want)).toBeLessThan(tolerance);
    const v1 = (await (await postJson(`/v1/models/${id}/infer`, { inputs: { x: { type: "float16", dims: [2, 64], data: x } } })).json()) as { outputs: { y: { type: string; data: number[] } } };
    expect(v1.outputs.y.type).toBe("float16");
    expect(maxAbsDiff(v1.outputs.y.data, want)).toBeLessThan(tolerance);

    const made = await postJson(`/v1/models/${id}/variants`, { quantize: { bits: 8 } });
    expect(made.status).toBe(201);
    const variant = (await made.json()) as { id: string; tensors: { name: string }[] };
    expect(variant.tensors.map((t) => t.name)).toEqual(["W"]);
    const q = (await (await postJson(`/v2/models/${id}/versions/${variant.id}/infer`, { inputs: [{ name: "x", shape: [2, 64], datatype: "FP16", data: x }] })).json()) as V2Response;
    expect(maxAbsDiff(q.outputs[0]!.data as number[], want)).toBeLessThan(3 * tolerance);
    expect(q.parameters.engine).toBe("kernels"); // the int8 weights on the integer kernel, values carried in float32

    // Evaluation feeds a float32 dataset to the half model (as halves) and reads its float16 outputs.
    const labels = BigInt64Array.from([0, 1], (r) => BigInt(want.slice(r * 32, r * 32 + 32).reduce((best, v, i, a) => (v > a[best]! ? i : best), 0)));
    const npz = encodeNpz({ x: encodeNpy({ dtype: "float32", shape: [2, 64], data: Float32Array.from(x) }), labels: encodeNpy({ dtype: "int64", shape: [2], data: labels }) });
    const dataset = (await (await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: npz })).json()) as { id: string };
    const ev = await postJson(`/v1/models/${id}/variants/${variant.id}/evaluate?wait=25`, { dataset: dataset.id });
    expect(ev.status).toBe(200);
    expect(((await ev.json()) as { eval: { samples: number; accuracy: { fp32: number } } }).eval).toMatchObject({ samples: 2, accuracy: { fp32: 1 } });
  });

  it("takes a raw application/octet-stream body for a one-input model (its symbolic dim from the byte count) and answers in binary", async () => {
    const id = await upload(buildImageModel());
    const image = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const raws: Record<string, string>[] = [{ "Content-Type": "application/octet-stream" }, { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: "0" }];
    for (const headers of raws) {
      const res = await api(`/v2/models/${id}/infer`, { method: "POST", headers, body: image });
      expect(res.status).toBe(200);
      const { response, tensors } = await readBinaryAnswer(res);
      expect(response.outputs[0]).toMatchObject({ name: "doubled", datatype: "FP32", shape: [3, 2, 2] });
      expect(Array.from(tensors.doubled as Float32Array)).toEqual(Array.from(image, (v) => 2 * v));
    }
    await expectV2Error(await api(`/v2/models/${id}/infer`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: image.subarray(0, 6) }), 400, "'image'", "6 bytes");
  });

  it("refuses a raw body for a model with more than one input, naming them", async () => {
    const id = await upload(buildIntegerModel());
    await expectV2Error(await api(`/v2/models/${id}/infer`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(32) }), 400, "'ids'", "'mask'");
  });

  it("returns only the outputs asked for, and refuses an output the model does not have", async () => {
    const { ref, id } = await setUpMlp();
    const inputs = [{ name: "input", shape: ref.dims, datatype: "FP32", data: ref.input }];
    const ok = (await (await postJson(`/v2/models/${id}/infer`, { inputs, outputs: [{ name: "logits" }] })).json()) as V2Response;
    expect(ok.outputs.map((o) => o.name)).toEqual(["logits"]);
    await expectV2Error(await postJson(`/v2/models/${id}/infer`, { inputs, outputs: [{ name: "probs" }] }), 400, "'probs'");
  });

  it("gzips a large JSON answer for a client that accepts gzip, timed in Server-Timing, with the same outputs as plain", async () => {
    // 4096 outputs: about 80 KB of JSON, over the size from which the Worker gzips.
    const id = await upload(buildMlp([16, 32, 4096], 12));
    const body = JSON.stringify({ inputs: [{ name: "input", shape: [1, 16], datatype: "FP32", data: Array.from({ length: 16 }, (_, i) => Math.sin(i)) }] });
    const ask = (accept: string) =>
      api(`/v2/models/${id}/infer`, { method: "POST", headers: { "Content-Type": "application/json", "Accept-Encoding": accept }, body, encodeResponseBody: "manual" } as RequestInit);
    const plain = await ask("identity");
    expect(plain.headers.get("Content-Encoding")).toBeNull();
    const expected = (JSON.parse(await plain.text()) as V2Response).outputs;
    expect(expected[0]!.shape).toEqual([1, 4096]);
    const gz = await ask("gzip");
    expect(gz.status).toBe(200);
    expect(gz.headers.get("Content-Encoding")).toBe("gzip");
    expect(gz.headers.get("Server-Timing")).toMatch(/serialize;dur=[\d.]+, compress;dur=[\d.]+, total;dur=[\d.]+$/);
    const text = await new Response(gz.body!.pipeThrough(new DecompressionStream("gzip"))).text();
    expect((JSON.parse(text) as V2Response).outputs).toEqual(expected);
  });
});

describe("POST /v2/models/{model}/infer: malformed requests are 400 {error} naming the tensor", () => {
  async function mlp() {
    const { ref, id } = await setUpMlp();
    const bin = encodeBinaryTensor("FP32", ref.input);
    const binaryInput = { name: "input", shape: ref.dims, datatype: "FP32", parameters: { binary_data_size: bin.byteLength } };
    return { ref, id, bin, binaryInput, path: `/v2/models/${id}/infer` };
  }

  it("a header length beyond the body", async () => {
    const { path } = await mlp();
    const res = await api(path, { method: "POST", headers: { [HEADER_LENGTH_HEADER]: "5000", "Content-Type": "application/octet-stream" }, body: '{"inputs":[]}' });
    await expectV2Error(res, 400, HEADER_LENGTH_HEADER, "5000");
  });

  it("a header that is not JSON, or a header length that is not a number", async () => {
    const { path } = await mlp();
    await expectV2Error(await api(path, { method: "POST", headers: { [HEADER_LENGTH_HEADER]: "3" }, body: "{{{ and more" }), 400, "not a JSON object");
    await expectV2Error(await api(path, { method: "POST", headers: { [HEADER_LENGTH_HEADER]: "ten" }, body: "{}" }), 400, HEADER_LENGTH_HEADER);
  });

  it("binary_data_size running past the body", async () => {
    const { path, bin, binaryInput } = await mlp();
    await expectV2Error(await postBinary(path, { inputs: [binaryInput] }, [bin.subarray(0, 100)]), 400, "'input'", "runs past");
  });

  it("binary bytes left over that no tensor claims", async () => {
    const { path, bin, binaryInput } = await mlp();
    await expectV2Error(await postBinary(path, { inputs: [binaryInput] }, [bin, new Uint8Array(4)]), 400, "claimed by no tensor");
  });

  it("binary sizes not matching shape x datatype", async () => {
    const { path, bin, binaryInput } = await mlp();
    const short = bin.subarray(0, bin.byteLength - 4);
    await expectV2Error(await postBinary(path, { inputs: [{ ...binaryInput, parameters: { binary_data_size: short.byteLength } }] }, [short]), 400, "'input'", `${short.byteLength} bytes`);
  });

  it("JSON data not matching its shape, or non-numbers in it", async () => {
    const { path, ref } = await mlp();
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: [2, 784], datatype: "FP32", data: ref.input.slice(1) }] }), 400, "'input'", "1567");
    const data = [...ref.input];
    data[3] = "x" as unknown as number;
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: [2, 784], datatype: "FP32", data }] }), 400, "'input'", "value 3");
  });

  it("an unknown datatype, and a datatype the model's input does not take", async () => {
    const { path, ref } = await mlp();
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: ref.dims, datatype: "FLOAT32", data: ref.input }] }), 400, "'input'", "FLOAT32");
    const ints = encodeBinaryTensor("INT32", ref.input.map(Math.round));
    await expectV2Error(await postBinary(path, { inputs: [{ name: "input", shape: ref.dims, datatype: "INT32", parameters: { binary_data_size: ints.byteLength } }] }, [ints]), 400, "'input'", "float32");
  });

  it("inputs missing, extra, given twice, or with both data and binary_data_size", async () => {
    const { path, ref, bin, binaryInput } = await mlp();
    const id = await upload(buildIntegerModel());
    const ids = { name: "ids", shape: [1, 4], datatype: "INT64", data: [1, 2, 3, 4] };
    await expectV2Error(await postJson(`/v2/models/${id}/infer`, { inputs: [ids] }), 400, "missing input 'mask'");
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: ref.dims, datatype: "FP32", data: ref.input }, { ...ids, name: "extra" }] }), 400, "'extra'");
    await expectV2Error(await postBinary(path, { inputs: [binaryInput, binaryInput] }, [bin, bin]), 400, "'input'", "twice");
    await expectV2Error(await postBinary(path, { inputs: [{ ...binaryInput, data: [1] }] }, [bin]), 400, "'input'", "both");
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: ref.dims, datatype: "FP32" }] }), 400, "'input'", "neither");
  });

  it("a bad shape, named by its tensor, and a BOOL byte that is not 0 or 1", async () => {
    const { path, ref } = await mlp();
    await expectV2Error(await postJson(path, { inputs: [{ name: "input", shape: [2, -784], datatype: "FP32", data: ref.input }] }), 400, "tensor 'input'", "shape");
    const id = await upload(buildIntegerModel());
    const json = (name: string, datatype: string) => ({ name, shape: [1, 4], datatype, data: [1, 0, 1, 0] });
    const bools = Uint8Array.from([1, 0, 2, 0]);
    const header = { inputs: [json("ids", "INT64"), { name: "mask", shape: [1, 4], datatype: "BOOL", parameters: { binary_data_size: 4 } }, json("pixels", "UINT8"), json("offsets", "INT32")] };
    await expectV2Error(await postBinary(`/v2/models/${id}/infer`, header, [bools]), 400, "'mask'", "value 2");
  });

  it("an empty inputs list is a 400, and a JSON body over the limit a 413", async () => {
    const { path } = await mlp();
    await expectV2Error(await postJson(path, { inputs: [] }), 400, "inputs");
    const huge = await api(path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(MAX_TENSOR_BODY_BYTES + 4) });
    await expectV2Error(huge, 413, "limit");
  });

  it("a JSON header over the JSON bound inside a binary body is a 413 naming MAX_JSON_BYTES, before it is parsed", async () => {
    const { path } = await mlp();
    const header = new Uint8Array(MAX_JSON_BYTES + 16).fill(0x20);
    header.set(new TextEncoder().encode('{"inputs":[]}'));
    const res = await api(path, { method: "POST", headers: { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(header.byteLength) }, body: header });
    await expectV2Error(res, 413, "MAX_JSON_BYTES");
  });
});

describe("V2 over experiments", () => {
  it("serves an experiment by its name, keeps the arm header, and refuses a version", async () => {
    const { ref, id } = await setUpMlp();
    const variant = await makeVariant(id);
    const created = await postJson("/v1/experiments", { name: "canary", model: id, arms: [{ variant: "original", weight: 1 }, { variant, weight: 1 }], control: "original" });
    expect(created.status).toBe(201);
    const input = encodeBinaryTensor("FP32", ref.input);
    const header = { inputs: [{ name: "input", shape: ref.dims, datatype: "FP32", parameters: { binary_data_size: input.byteLength } }], parameters: { binary_data_output: true } };
    const res = await postBinary("/v2/models/canary/infer", header, [input]);
    expect(res.status).toBe(200);
    const arm = res.headers.get("x-slimserve-arm");
    expect(["original", variant]).toContain(arm);
    expect(res.headers.get("x-slimserve-request")).toMatch(/^[0-9a-f-]{36}$/);
    const { response, tensors } = await readBinaryAnswer(res);
    expect(response).toMatchObject({ model_name: "canary", parameters: { arm } });
    expect((tensors.logits as Float32Array).length).toBe(20);

    // The arm header pins the arm.
    const pinned = await postBinary("/v2/models/canary/infer", header, [input], { "x-slimserve-arm": variant });
    expect(pinned.headers.get("x-slimserve-arm")).toBe(variant);

    const meta = (await (await api("/v2/models/canary")).json()) as { name: string; inputs: unknown[] };
    expect(meta).toMatchObject({ name: "canary", inputs: [{ name: "input", datatype: "FP32", shape: [-1, 784] }] });
    await expectV2Error(await postJson("/v2/models/canary/versions/8/infer", { inputs: [] }), 400);
    await expectV2Error(await api("/v2/models/canary/versions/8"), 400, "experiment");
  });
});

describe("the typed client over V2", () => {
  const client = () => new SlimserveClient({ baseUrl: "https://slimserve.test", token: TOKENS.alpha, fetch: (req) => SELF.fetch(req) });

  it("sends typed arrays as binary and decodes binary (and JSON) outputs, by name and version", async () => {
    const { ref, id } = await setUpMlp("digits");
    await makeVariant(id);
    const inputs = { input: { type: "float32", dims: ref.dims, data: Float32Array.from(ref.input) } };
    const answer = await client().inferV2("digits", inputs);
    expect(answer.response).toMatchObject({ model_name: "digits", model_version: "32" });
    expect(answer.outputs.logits!.data).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(answer.outputs.logits!.data as Float32Array, ref.fp32)).toBeLessThan(SAME_GRAPH_TOLERANCE);
    const json = await client().inferV2(id, inputs, { version: 8, binary: false });
    expect(json.response.parameters).toMatchObject({ bits: 8 });
    expect(Array.isArray(json.outputs.logits!.data)).toBe(true);
    expect(json.arm).toBeNull();
    expect((await client().v2Metadata("digits")).inputs).toEqual([{ name: "input", datatype: "FP32", shape: [-1, 784] }]);
  });

  it("turns a V2 {error} into a SlimserveError with the status's code and the server's message", async () => {
    const { id } = await setUpMlp();
    const err = await client()
      .inferV2(id, { input: { type: "float32", dims: [1, 5], data: new Float32Array(5) } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "SlimserveError", status: 400, code: "invalid_request" });
    expect((err as Error).message).toContain("input 'input' dim 1 must be 784, got 5");
  });
});
