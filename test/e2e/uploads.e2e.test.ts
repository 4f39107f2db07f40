// Big uploads through `wrangler dev`: a model sent in parts by the client library, cut off after two parts and
// resumed from the state it saved; the CLI uploading in parts with a progress bar, and resuming from the state file
// an earlier try left; a single request over 8 MiB streamed to R2. Each stores the model whose id and bytes are those
// of the file. A model saved by onnx's writer with its weights in a file beside it is uploaded by the CLI (the file in
// parts, then the graph naming it) and stored as the model saved whole.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type UploadState } from "@client/slimserve.js";
import { encodeModel } from "@worker/onnx/codec";
import { mlpModel } from "@test/support/models";
import { PYTHON } from "@test/support/python";
import { cliIn } from "./run-cli";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const token = E2E_TOKENS.uploads;
const MiB = 1024 * 1024;
const idOf = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex").slice(0, 24);
const memorySource = (bytes: Uint8Array) => ({ size: bytes.byteLength, read: async (o: number, n: number) => bytes.slice(o, o + n) });

let client: SlimserveClient;
beforeAll(() => {
  client = new SlimserveClient({ baseUrl, token });
});

describe("uploads in parts through wrangler dev", () => {
  it("the client resumes an upload cut off after two parts, and stores the file's bytes", async () => {
    const bytes = encodeModel(mlpModel([1536, 2048, 1024, 10], 21)); // 20.9 MB: five 5 MiB parts
    let saved: UploadState | undefined;
    let partsSent = 0;
    const cut = await client
      .uploadModelInParts(memorySource(bytes), {
        name: "resumed",
        partBytes: 5 * MiB,
        onPart: (state) => {
          saved = JSON.parse(JSON.stringify(state)) as UploadState;
          if (Object.keys(state.parts).length === 2 && partsSent++ === 0) throw new Error("connection lost");
        },
      })
      .catch((err: Error) => err);
    expect(cut).toBeInstanceOf(Error);
    expect(Object.keys(saved!.parts)).toEqual(["1", "2"]);
    const progress: number[] = [];
    const model = await client.uploadModelInParts(memorySource(bytes), { name: "resumed", partBytes: 5 * MiB, resume: saved, onProgress: (sent) => progress.push(sent) });
    expect(progress[0]).toBe(10 * MiB); // two parts were already there
    expect(progress.at(-1)).toBe(bytes.byteLength);
    expect(model).toMatchObject({ id: idOf(bytes), bytes: bytes.byteLength, name: "resumed" });
    expect(idOf(await client.downloadModel(model.id))).toBe(idOf(bytes));
  });

  it("a single request over 8 MiB streams to R2 and stores the same model", async () => {
    const bytes = encodeModel(mlpModel([1024, 2048, 1024, 10], 22)); // 16.8 MB
    const model = await client.uploadModel(bytes, { name: "one-request" });
    expect(model).toMatchObject({ id: idOf(bytes), bytes: bytes.byteLength });
    expect(idOf(await client.downloadModel(model.id))).toBe(idOf(bytes));
  });

  it("the CLI uploads in parts with a progress bar, and resumes from the state file an earlier try left", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimserve-uploads-"));
    const env = { PATH: process.env.PATH ?? "", HOME: dir, SLIMSERVE_CONFIG: join(dir, "config.json") };
    const { ok } = cliIn(dir, env);
    await ok("login", "--url", baseUrl, "--token", token);

    const file = join(dir, "encoder.onnx");
    const bytes = encodeModel(mlpModel([1024, 1536, 1536, 10], 23)); // 15.7 MB
    await writeFile(file, bytes);
    // An earlier try sent part 1 and was cut off: its state file is beside the model.
    let state: UploadState | undefined;
    await client
      .uploadModelInParts(memorySource(bytes), {
        name: "encoder", // the name belongs to the upload's plan: a resumed upload keeps it
        partBytes: 5 * MiB,
        onPart: (s) => {
          state = JSON.parse(JSON.stringify(s)) as UploadState;
          if (Object.keys(s.parts).length === 1) throw new Error("cut off");
        },
      })
      .catch(() => undefined);
    await writeFile(`${file}.upload.json`, JSON.stringify(state));

    const { stdout, stderr } = await cliIn(dir, env).cli("upload", file, "--part-mb", "5", "--json");
    expect(stderr).toContain(`resuming upload ${state!.uploadId} (1 parts sent)`);
    expect(stderr).toMatch(/upload.*100%|100%.*upload/);
    const model = JSON.parse(stdout) as { id: string; name: string };
    expect(model).toMatchObject({ id: idOf(bytes), name: "encoder" });
    await expect(stat(`${file}.upload.json`)).rejects.toThrow();
    expect(idOf(new Uint8Array(await readFile(file)))).toBe(model.id);
  });

  it("the CLI uploads a model saved with external data (its file in parts, then the graph), stored as the model saved whole", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimserve-external-"));
    const env = { PATH: process.env.PATH ?? "", HOME: dir, SLIMSERVE_CONFIG: join(dir, "config.json") };
    const { ok } = cliIn(dir, env);
    await ok("login", "--url", baseUrl, "--token", token);
    const whole = encodeModel(mlpModel([1024, 2048, 512, 10], 24)); // 12.6 MB of weights: three 5 MiB parts
    await writeFile(join(dir, "whole.onnx"), whole);
    await mkdir(join(dir, "weights"));
    // onnx's own writer, as users save models over 2 GB (and any model they choose to).
    execFileSync(PYTHON, ["-c", "import onnx; onnx.save_model(onnx.load('whole.onnx'), 'model.onnx', save_as_external_data=True, location='weights/model.data', size_threshold=1024)"], { cwd: dir });
    expect((await stat(join(dir, "model.onnx"))).size).toBeLessThan(10_000);
    // A first run whose model is refused (a name over 128 characters) leaves the file's upload to the next run.
    const refused = await cliIn(dir, env).cli("upload", "model.onnx", "--external-data", "weights/model.data", "--part-mb", "5", "--name", "n".repeat(129));
    expect(refused.code).toBe(1);
    const state = JSON.parse(await readFile(join(dir, "weights", "model.data.upload.json"), "utf8")) as UploadState;
    const { stdout, stderr } = await cliIn(dir, env).cli("upload", "model.onnx", "--external-data", "weights/model.data", "--part-mb", "5", "--json");
    expect(stderr).toContain(`resuming upload ${state.uploadId} (3 parts sent)`);
    expect(stderr).toContain("weights/model.data");
    const model = JSON.parse(stdout) as { id: string; bytes: number; name: string };
    expect(model).toMatchObject({ id: idOf(whole), bytes: whole.byteLength, name: "model" });
    expect(idOf(await client.downloadModel(model.id))).toBe(idOf(whole));
    await expect(stat(join(dir, "weights", "model.data.upload.json"))).rejects.toThrow();
  });
});
