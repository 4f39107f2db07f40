// Serving through the HTTP API on the kernel engine: an int8 variant and its fp32 original both answer with
// engine "kernels", the variant record reports the engine and a resident size below the original's, and outputs
// match a plain JS forward pass of the fp32 MLP; a model whose If an int64 sample rate switches (each branch with its
// own weight of one name) runs on the kernels at either rate, original and int8 alike, against a plain forward pass.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { readFloat32 } from "@worker/onnx/tensor";
import { buildCnn, buildLstm, buildMlp, buildRateSwitch, buildUncoveredMlp, randomInput } from "@test/support/models";

const auth = { Authorization: "Bearer test-token" };
const json = { ...auth, "Content-Type": "application/json" };

/** input -> (x W + b, relu)* -> x Wout^T + bout, in float64. */
function mlpForward(bytes: Uint8Array, x: number[], batch: number): number[] {
  const g = decodeModel(bytes).graph!;
  const w = (name: string) => readFloat32(g.initializer.find((t) => t.name === name)!);
  const dims = (name: string) => g.initializer.find((t) => t.name === name)!.dims.map(Number);
  let act = x;
  let width = x.length / batch;
  for (let i = 0; g.initializer.some((t) => t.name === `fc${i}.weight`); i++) {
    const [K, N] = dims(`fc${i}.weight`) as [number, number];
    const W = w(`fc${i}.weight`);
    const b = w(`fc${i}.bias`);
    const next: number[] = [];
    for (let m = 0; m < batch; m++)
      for (let n = 0; n < N; n++) {
        let s = b[n]!;
        for (let k = 0; k < K; k++) s += act[m * K + k]! * W[k * N + n]!;
        next.push(Math.max(0, s));
      }
    act = next;
    width = N;
  }
  const [N] = dims("head.weight") as [number];
  const W = w("head.weight");
  const b = w("head.bias");
  const out: number[] = [];
  for (let m = 0; m < batch; m++)
    for (let n = 0; n < N; n++) {
      let s = b[n]!;
      for (let k = 0; k < width; k++) s += act[m * width + k]! * W[n * width + k]!;
      out.push(s);
    }
  return out;
}

const relDiff = (a: number[], b: number[]) => {
  const scale = Math.max(...b.map(Math.abs));
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / scale;
};

describe("serving on the kernel engine", () => {
  it("serves an int8 variant and its fp32 original with engine 'kernels' through the API", async () => {
    const bytes = buildMlp([256, 256, 128, 10], 9);
    const up = await SELF.fetch("https://x/v1/models?name=mlp-kernels", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    expect(up.status).toBe(201);
    const model = (await up.json()) as { id: string; bytes: number };
    const made = await SELF.fetch(`https://x/v1/models/${model.id}/variants`, { method: "POST", headers: json, body: JSON.stringify({ quantize: { bits: 8 } }) });
    const variant = (await made.json()) as { engine: string; residentBytes: number };
    expect(made.status, JSON.stringify(variant)).toBe(201);
    expect(variant.engine).toBe("kernels");
    // int8 weights are a quarter of the fp32 bytes, which onnxruntime-web would hold about 4 times over.
    expect(variant.residentBytes).toBeGreaterThan(model.bytes / 4);
    expect(variant.residentBytes).toBeLessThan(model.bytes);

    const batch = 2;
    const x = randomInput(256 * batch, 11);
    const want = mlpForward(bytes, x, batch);
    for (const [bits, tolerance] of [["32", 1e-5], ["8", 4e-2]] as const) {
      const r = await SELF.fetch(`https://x/v1/models/${model.id}/infer?bits=${bits}`, {
        method: "POST", headers: json, body: JSON.stringify({ inputs: { input: { type: "float32", dims: [batch, 256], data: x } } }),
      });
      const answer = (await r.json()) as { engine: string; bits: number; outputs: { logits: { dims: number[]; data: number[] } } };
      expect(r.status, JSON.stringify(answer)).toBe(200);
      expect(answer.engine).toBe("kernels");
      expect(answer.bits).toBe(Number(bits));
      expect(answer.outputs.logits.dims).toEqual([batch, 10]);
      expect(relDiff(answer.outputs.logits.data, want), `bits=${bits}`).toBeLessThan(tolerance);
    }
  });

  // Originals and variants alike run on the kernels wherever they cover the graph, else on onnxruntime-web.
  for (const [name, bytes, dims, engine] of [
    ["cnn", buildCnn(3), [2, 1, 12, 12], "kernels"],
    ["lstm", buildLstm(3), [2, 6, 8], "kernels"],
    ["softplus-mlp", buildUncoveredMlp([16, 32, 10], 3), [2, 16], "onnxruntime-web"],
  ] as const) {
    it(`serves the ${name} original and its int8 variant on ${engine}, within 3e-2`, async () => {
      const up = await SELF.fetch(`https://x/v1/models?name=${name}`, { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
      const model = (await up.json()) as { id: string };
      const made = await SELF.fetch(`https://x/v1/models/${model.id}/variants`, { method: "POST", headers: json, body: JSON.stringify({ quantize: { bits: 8 } }) });
      expect(((await made.json()) as { engine: string }).engine).toBe(engine);
      const body = JSON.stringify({ inputs: { input: { type: "float32", dims, data: randomInput(dims.reduce((a: number, b: number) => a * b, 1), 4) } } });
      const answers = [];
      for (const bits of ["32", "8"]) {
        const r = await SELF.fetch(`https://x/v1/models/${model.id}/infer?bits=${bits}`, { method: "POST", headers: json, body });
        expect(r.status).toBe(200);
        answers.push((await r.json()) as { engine: string; outputs: { logits: { data: number[] } } });
      }
      expect(answers.map((a) => a.engine)).toEqual([engine, engine]);
      expect(relDiff(answers[1]!.outputs.logits.data, answers[0]!.outputs.logits.data)).toBeLessThan(3e-2);
    });
  }

  it("serves a model whose If an int64 sample rate switches, and its int8 variant, on the kernels at either rate", async () => {
    const bytes = buildRateSwitch(6);
    const up = await SELF.fetch("https://x/v1/models?name=rate-switch", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    const model = (await up.json()) as { id: string };
    const made = await SELF.fetch(`https://x/v1/models/${model.id}/variants`, { method: "POST", headers: json, body: JSON.stringify({ quantize: { bits: 8 } }) });
    const variant = (await made.json()) as { engine: string; tensors: { name: string }[] };
    expect(made.status, JSON.stringify(variant)).toBe(201);
    expect(variant.engine).toBe("kernels");
    // Each branch's `w` is its own weight (the second renamed), both quantized.
    expect(variant.tensors.map((t) => t.name).sort()).toEqual(["w", "w_1"]);
    // The reference: the chosen branch's activation of input x w, in float64 from the original's weights.
    const g = decodeModel(bytes).graph!;
    const weightOf = (branch: string) => readFloat32(g.node[1]!.attribute.find((a) => a.name === branch)!.g!.initializer[0]!);
    const x = randomInput(16, 8);
    const forward = (sr: number) => {
      const w = weightOf(sr === 16000 ? "then_branch" : "else_branch");
      const act = sr === 16000 ? (v: number) => Math.max(0, v) : Math.tanh;
      return Array.from({ length: 20 }, (_, i) => {
        const [m, n] = [Math.floor(i / 10), i % 10];
        let s = 0;
        for (let k = 0; k < 8; k++) s += x[m * 8 + k]! * w[k * 10 + n]!;
        return act(s);
      });
    };
    for (const sr of [16000, 8000, 16000]) {
      for (const [bits, tolerance] of [["32", 1e-5], ["8", 3e-2]] as const) {
        const body = JSON.stringify({ inputs: { input: { type: "float32", dims: [2, 8], data: x }, sr: { type: "int64", dims: [], data: [sr] } } });
        const r = await SELF.fetch(`https://x/v1/models/${model.id}/infer?bits=${bits}`, { method: "POST", headers: json, body });
        const answer = (await r.json()) as { engine: string; outputs: { logits: { data: number[] } } };
        expect(r.status, JSON.stringify(answer)).toBe(200);
        expect(answer.engine).toBe("kernels");
        expect(relDiff(answer.outputs.logits.data, forward(sr)), `sr ${sr} bits ${bits}`).toBeLessThan(tolerance);
      }
    }
  });

  it("answers 400 invalid_input when the batch dims do not fit the graph on the kernel engine", async () => {
    const bytes = buildMlp([8, 16, 4], 12);
    const up = await SELF.fetch("https://x/v1/models?name=mlp-small", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    const model = (await up.json()) as { id: string };
    const r = await SELF.fetch(`https://x/v1/models/${model.id}/infer`, {
      method: "POST", headers: json, body: JSON.stringify({ inputs: { input: { type: "float32", dims: [1, 9], data: randomInput(9, 1) } } }),
    });
    const body = (await r.json()) as { error: { code: string } };
    expect(r.status).toBe(400);
    expect(body.error.code).toBe("invalid_input");
  });
});
