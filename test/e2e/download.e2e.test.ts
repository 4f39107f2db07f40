// Downloads through `wrangler dev` as raw HTTP (node:http, which neither asks for nor decodes a content coding): a
// plain GET is the stored bytes, whose sha256 is the ETag and starts with the model id; a client that accepts gzip/br
// gets fewer bytes on the wire that decode to the same; the client library and the CLI write the exact bytes.
import { createHash } from "node:crypto";
import { get } from "node:http";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type Model, type Variant } from "@client/slimserve.js";
import { buildMlp } from "@test/support/models";
import { cliIn } from "./run-cli";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const token = E2E_TOKENS.downloads;
const modelBytes = buildMlp([64, 128, 10], 11);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  wire: Buffer;
}

/** GET with exactly these headers; the body as it came over the connection. */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    get(`${baseUrl}${path}`, { headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, wire: Buffer.concat(chunks) }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

function decode(raw: Raw): Uint8Array {
  const coding = raw.headers["content-encoding"];
  if (coding === "gzip") return new Uint8Array(gunzipSync(raw.wire));
  if (coding === "br") return new Uint8Array(brotliDecompressSync(raw.wire));
  throw new Error(`unexpected Content-Encoding ${String(coding)}`);
}

let client: SlimserveClient;
let model: Model;
let variant: Variant;

beforeAll(async () => {
  client = new SlimserveClient({ baseUrl, token });
  model = await client.uploadModel(modelBytes, { name: "downloads" });
  const made = await client.compress(model.id, { quantize: { bits: 8 } });
  if (!made.variant) throw new Error("the int8 variant was expected at once, not as a job");
  variant = made.variant;
});

describe("downloads through wrangler dev", () => {
  const paths = () => [
    { path: `/v1/models/${model.id}/onnx`, sha: sha256(modelBytes), size: modelBytes.byteLength },
    { path: `/v1/models/${model.id}/variants/${variant.id}/onnx`, sha: variant.sha256, size: variant.bytes },
  ];

  it("gives a plain GET the exact bytes of the original and the variant: sha256 = ETag, Content-Length, no coding", async () => {
    expect(sha256(modelBytes).startsWith(model.id)).toBe(true);
    expect(model.sha256).toBe(sha256(modelBytes));
    for (const { path, sha, size } of paths()) {
      for (const headers of [{}, { "Accept-Encoding": "identity" }] as Record<string, string>[]) {
        const raw = await rawGet(path, headers);
        expect(raw.status).toBe(200);
        expect(raw.headers["content-encoding"]).toBeUndefined();
        expect(raw.headers["content-type"]).toBe("application/x-protobuf");
        expect(raw.headers["etag"]).toBe(`"${sha}"`);
        expect(raw.headers["content-length"]).toBe(String(size));
        expect(raw.headers["vary"]).toMatch(/accept-encoding/i);
        expect(sha256(raw.wire)).toBe(sha);
      }
    }
  });

  it("sends fewer bytes to a client that accepts gzip or br, decoding to the same bytes", async () => {
    for (const { path, sha, size } of paths()) {
      for (const accept of ["gzip, br", "gzip", "br"]) {
        const raw = await rawGet(path, { "Accept-Encoding": accept });
        expect(raw.status).toBe(200);
        expect(accept.split(", ")).toContain(raw.headers["content-encoding"]);
        expect(raw.headers["vary"]).toMatch(/accept-encoding/i);
        expect(raw.wire.byteLength).toBeLessThan(size);
        expect(sha256(decode(raw))).toBe(sha);
      }
    }
  });

  it("gives the client library the exact bytes of the original and the variant", async () => {
    expect(sha256(await client.downloadModel(model.id))).toBe(sha256(modelBytes));
    expect(sha256(await client.downloadVariant(model.id, variant.id))).toBe(variant.sha256);
  });

  it("makes the CLI write the exact bytes of the original and the variant", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimserve-download-"));
    const { ok } = cliIn(dir, { PATH: process.env.PATH ?? "", HOME: dir, SLIMSERVE_CONFIG: join(dir, "slimserve.json") });
    await ok("login", "--url", baseUrl, "--token", token);
    await ok("download", model.id, "-o", "original.onnx");
    await ok("download", model.id, variant.id, "-o", "int8.onnx");
    expect(sha256(await readFile(join(dir, "original.onnx")))).toBe(sha256(modelBytes));
    expect(sha256(await readFile(join(dir, "int8.onnx")))).toBe(variant.sha256);
  });
});
