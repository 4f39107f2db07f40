// The `slimserve` CLI as a user runs it (a child process) against `wrangler dev`: login, upload, ls, compress, show,
// infer with .npy in and out (checked against onnxruntime-node on the same bytes), download, and its errors.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient } from "@client/slimserve.js";
import { decodeNpy, encodeNpy } from "@formats/npy.js";
import { buildMlp, randomInput } from "@test/support/models";
import { cliIn, type Run } from "./run-cli";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");

let dir: string;
let env: Record<string, string>;
let cli: (...args: string[]) => Promise<Run>;
let ok: (...args: string[]) => Promise<string>;

async function reference(modelBytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelBytes, { graphOptimizationLevel: "basic" });
  const out = await session.run({ input: new ort.Tensor("float32", input, dims) });
  return out.logits!.data as Float32Array;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

const modelBytes = buildMlp([32, 64, 10], 7);
const modelId = createHash("sha256").update(modelBytes).digest("hex").slice(0, 24);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slimserve-cli-"));
  env = { PATH: process.env.PATH ?? "", HOME: dir, SLIMSERVE_CONFIG: join(dir, "config", "slimserve.json") };
  ({ cli, ok } = cliIn(dir, env));
  await writeFile(join(dir, "mlp.onnx"), modelBytes);
});

describe("slimserve CLI against wrangler dev", () => {
  it("logs in, saving the URL and token in a private config file", async () => {
    const out = await ok("login", "--url", baseUrl, "--token", E2E_TOKENS.cli);
    expect(out).toContain(`Logged in to ${baseUrl}`);
    const saved = JSON.parse(await readFile(env.SLIMSERVE_CONFIG!, "utf8"));
    expect(saved).toEqual({ url: baseUrl, token: E2E_TOKENS.cli });
    expect((await stat(env.SLIMSERVE_CONFIG!)).mode & 0o777).toBe(0o600);
  });

  it("refuses to save a token the server does not accept", async () => {
    const r = await cli("login", "--url", baseUrl, "--token", "wrong", "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/401 unauthorized/);
    expect(JSON.parse(await readFile(env.SLIMSERVE_CONFIG!, "utf8")).token).toBe(E2E_TOKENS.cli);
  });

  it("uploads a model, whose id is its content address, and lists it", async () => {
    const model = JSON.parse(await ok("upload", "mlp.onnx", "--name", "e2e-mlp", "--json"));
    expect(model).toMatchObject({ id: modelId, name: "e2e-mlp", bytes: modelBytes.byteLength });
    const listed = JSON.parse(await ok("ls", "--json"));
    expect(listed.models.map((m: { id: string }) => m.id)).toEqual([modelId]);
    const table = await ok("ls");
    expect(table.split("\n")[0]).toMatch(/^ID\s+NAME\s+SIZE\s+PARAMS/);
    expect(table).toMatch(new RegExp(`${modelId}\\s+e2e-mlp`));
  });

  it("compresses to 8 bits, shows the variant, and finds it again instead of remaking it", async () => {
    const variant = JSON.parse(await ok("compress", modelId, "--bits", "8", "--json"));
    expect(variant).toMatchObject({ modelId, bits: 8 });
    expect(variant.bytes).toBeLessThan(modelBytes.byteLength / 2);
    const again = await ok("compress", modelId, "--bits", "8");
    expect(again).toContain(`found variant ${variant.id}`);
    const shown = await ok("show", modelId);
    expect(shown).toMatch(new RegExp(`${variant.id}\\s+8\\s+`));
    expect(shown).toContain(variant.engine);
  });

  it("runs inference from .npy files and writes .npy outputs that match onnxruntime-node", async () => {
    const dims = [3, 32];
    const input = new Float32Array(randomInput(96, 11));
    await writeFile(join(dir, "x.npy"), encodeNpy({ dtype: "float32", shape: dims, data: input }));
    const client = new SlimserveClient({ baseUrl, token: E2E_TOKENS.cli });
    const vid = (await client.getModel(modelId)).variants[0]!.id;

    await ok("infer", modelId, "x.npy", "--out", ".");
    const fp32 = decodeNpy(await readFile(join(dir, "logits.npy")));
    expect(fp32.dtype).toBe("float32");
    expect(fp32.shape).toEqual([3, 10]);
    expectClose(fp32.data as Float32Array, await reference(modelBytes, input, dims), 1e-5);

    const variantFile = join(dir, "v8.onnx");
    await ok("download", modelId, vid, "-o", variantFile);
    const answer = JSON.parse(await ok("infer", modelId, "--input", "input=x.npy", "--bits", "8", "--out", ".", "--json"));
    expect(answer).toMatchObject({ model: modelId, variant: vid, bits: 8 });
    const int8 = decodeNpy(await readFile(join(dir, "logits.npy")));
    const expected = await reference(await readFile(variantFile), input, dims);
    // onnxruntime-web computes the same int8 graph to float rounding; the kernel engine also quantizes activations
    // per row (int8 x int8), within 2% of the output range.
    const range = Math.max(...Array.from(expected, Math.abs));
    expectClose(int8.data as Float32Array, expected, answer.engine === "kernels" ? 0.02 * range : 1e-4);
  });

  it("infer --npy sends binary V2 tensors, by the model's name and a bit-width, and writes the outputs back as .npy", async () => {
    const dims = [4, 32];
    const input = new Float32Array(randomInput(128, 12));
    await writeFile(join(dir, "xb.npy"), encodeNpy({ dtype: "float32", shape: dims, data: input }));
    const answer = JSON.parse(await ok("infer", "e2e-mlp", "--npy", "xb.npy", "--out", "v2out", "--json"));
    expect(answer).toMatchObject({ model_name: "e2e-mlp", model_version: "32", parameters: { model: modelId, bits: 32 } });
    expect(answer.outputs).toEqual([{ name: "logits", datatype: "FP32", shape: [4, 10], parameters: { binary_data_size: 160 } }]);
    const fp32 = decodeNpy(await readFile(join(dir, "v2out", "logits.npy")));
    expect(fp32.shape).toEqual([4, 10]);
    expectClose(fp32.data as Float32Array, await reference(modelBytes, input, dims), 1e-5);

    const human = await ok("infer", modelId, "--npy", "xb.npy", "--bits", "8");
    expect(human).toMatch(/version [0-9a-f]{24} \(8 bits, /);
    expect(human).toContain("logits float32[4,10] -> logits.npy");
    expect(decodeNpy(await readFile(join(dir, "logits.npy"))).shape).toEqual([4, 10]);

    await writeFile(join(dir, "wrong-v2.npy"), encodeNpy({ dtype: "float32", shape: [1, 5], data: new Float32Array(5) }));
    const wrong = await cli("infer", modelId, "--npy", "wrong-v2.npy");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/400 invalid_request: input 'input' dim 1 must be 32, got 5/);
  });

  it("creates the --out directory that does not exist yet, and names a file it cannot read in one line", async () => {
    await writeFile(join(dir, "x1.npy"), encodeNpy({ dtype: "float32", shape: [1, 32], data: new Float32Array(randomInput(32, 5)) }));
    await ok("infer", modelId, "x1.npy", "--out", "fresh/nested");
    expect(decodeNpy(await readFile(join(dir, "fresh", "nested", "logits.npy"))).shape).toEqual([1, 10]);

    const missing = await cli("infer", modelId, "absent.npy");
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("slimserve: cannot open absent.npy (ENOENT: no such file or directory)");
  });

  it("downloads the original bytes unchanged", async () => {
    await ok("download", modelId, "-o", "back.onnx");
    expect(new Uint8Array(await readFile(join(dir, "back.onnx")))).toEqual(modelBytes);
  });

  it("reports the API's error code and exits 1 on bad input", async () => {
    await writeFile(join(dir, "wrong.npy"), encodeNpy({ dtype: "float32", shape: [1, 5], data: new Float32Array(5) }));
    const r = await cli("infer", modelId, "wrong.npy");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/400 invalid_input: input 'input' dim 1 must be 32, got 5/);
  });

  it("prefers --token and SLIMSERVE_TOKEN over the config file", async () => {
    const r = await cli("ls", "--token", "not-a-token");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown bearer token/);
    env.SLIMSERVE_TOKEN = "also-wrong";
    try {
      expect((await cli("ls")).code).toBe(1);
    } finally {
      delete env.SLIMSERVE_TOKEN;
    }
  });

  it("exits 2 with usage help on an unknown command or option", async () => {
    const r = await cli("frobnicate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect((await cli("ls", "--colour")).code).toBe(2);
  });

  it("deletes a model", async () => {
    await ok("rm", modelId);
    expect(JSON.parse(await ok("ls", "--json")).models).toEqual([]);
  });
});
