// The engine on real graph families: the full zoo's MobileNetV2, ResNet-18, transformer encoder (sequence 128),
// LSTM and GRU, torchvision's EfficientNet-B0 and MobileNetV3-Large, and a 1-D keyword spotter (zoo.py --set families), as FP32 on onnxruntime-web and on the kernel engine and as int8 weight-only, int4, 1-bit and dynamic int8 variants on the
// engine that would serve them, and a static int8 variant (QDQ activations, calibrated by onnxruntime-node on seeded
// inputs), at batch 1 and 8, in one workerd isolate (the bench Worker), side by side: median
// ms per run timed from outside (workerd's clock does not advance during compute), resident bytes, and each row's
// ratio to FP32 on onnxruntime-web. Then, through the app Worker (as `wrangler dev` runs it, requests over HTTP to its
// address as a client sends them), batch-1 client wall time above the empty route's against the answer's
// Server-Timing total, over /v1 JSON and over the V2 protocol's binary tensors (inputs and outputs). Writes
// bench/results/families.json. Run by `npm run bench -- --only families` (a vitest run of this file alone: bench/vitest.families.config.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_startWorker } from "wrangler";
import { calibrationTargets, makeCalibrator, type ActivationRanges } from "@worker/compress/calibrate";
import { compressModel, NothingToCompressError } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { runReference } from "@test/support/ort-node";
import { binaryInferBody, HEADER_LENGTH_HEADER } from "@formats/inference-v2.js";
import { seededFeeds, zooModelsIn, type ZooInputSpec, type ZooModel } from "@test/support/zoo";
import { ensureFullZoo, fullZooDir } from "./full-zoo";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(ROOT, "bench/results/families.json");
/** The core zoo's five families, then two of the other set's mobile CNNs (SiLU and squeeze-and-excitation; HardSwish)
 * and its keyword spotter (1-D convolutions over 40 bands x 224 frames). */
const CORE = ["mobilenet_v2", "resnet18", "transformer", "lstm", "gru"];
const OTHERS = ["efficientnet_b0", "mobilenet_v3_large", "kws"];
const NAMES = [...CORE, ...OTHERS];
/** Those timed through the app Worker too: the keyword spotter runs in under a millisecond, below the whole
 * milliseconds Server-Timing reports in workerd, so its client time cannot be held against it. */
const CLIENT_NAMES = NAMES.filter((n) => n !== "kws");
const BATCHES = [1, 8];
const VARIANTS: { label: string; recipe: unknown; calibrated?: boolean }[] = [
  { label: "int8", recipe: { quantize: { bits: 8 } } },
  { label: "int4", recipe: { quantize: { bits: 4 } } },
  { label: "1-bit", recipe: { quantize: { bits: 1 } } },
  { label: "dynamic int8", recipe: { quantize: { bits: 8, scheme: "dynamic" } } },
  // The dataset id is the recipe's; the ranges come from calibrationRanges (what the catalog collects from a dataset).
  { label: "static int8", recipe: { quantize: { bits: 8, scheme: "static", calibration: { dataset: "0".repeat(24) } } }, calibrated: true },
];
/** Seeded batch-1 inputs the static variants are calibrated on. */
const CALIBRATION_SEEDS = [11, 12, 13, 14];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  model: string;
  variant: string;
  engine: string;
  batch: number;
  ms?: number;
  residentBytes?: number;
  modelBytes?: number;
  /** ms over FP32 on onnxruntime-web's ms, same model and batch, timed in alternation with this row. */
  ratio?: number;
  /** 1-bit rows: ms over the int4 variant's ms on the engine, same model and batch, timed in alternation (the goal is
   * "no slower than int4": two rows' ratios to FP32 come from different spells of this shared machine). */
  int4Ratio?: number;
  kernels?: Record<string, string>;
  /** Why this engine does not run the model (the kernel engine's first uncovered node). */
  uncovered?: string;
}

interface ClientRow {
  model: string;
  variant: string;
  engine: string;
  protocol: "v1-json" | "v2-binary";
  /** Median client wall time of POST /infer minus the median of GET /v1/health, ms. */
  clientMs: number;
  /** Median Server-Timing total, and its run. */
  serverTotalMs: number;
  serverRunMs: number;
  /** clientMs / serverTotalMs. */
  agreement: number;
}

const rows: Row[] = [];
const clientRows: ClientRow[] = [];
const started = Date.now();

/** The model's declared inputs at `batch`: the batch is each input's symbolic dim in the graph (the first, where it
 * declares none; a recurrent state [layers, batch, hidden] has it second). */
function specsAt(m: ZooModel, batch: number): ZooInputSpec[] {
  const declared = new Map(decodeModel(m.bytes).graph!.input.map((v) => {
    const dims = v.type?.value.case === "tensorType" ? (v.type.value.value.shape?.dim ?? []) : [];
    return [v.name, Math.max(0, dims.findIndex((d) => d.value.case === "dimParam"))] as const;
  }));
  return m.signature.inputs.map((s) => ({ ...s, shape: s.shape.map((d, i) => (i === (declared.get(s.name) ?? 0) ? batch : d)) }));
}

function jsonFeeds(m: ZooModel, batch: number) {
  const feeds = seededFeeds(specsAt(m, batch), 1);
  return Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, Number) }]),
  );
}

/** Min/max ranges of every activation a static recipe quantizes, from onnxruntime-node on seeded inputs. */
async function calibrationRanges(m: ZooModel): Promise<ActivationRanges> {
  const model = decodeModel(m.bytes);
  const targets = calibrationTargets(model);
  const exposed = encodeModel(withExtraOutputs(model, targets));
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator("minmax")]));
  for (const seed of CALIBRATION_SEEDS) {
    const feeds = seededFeeds(specsAt(m, 1), seed);
    const outs = await runReference(exposed, feeds);
    for (const t of targets) calibrators.get(t)!.observe((feeds[t] ?? outs[t])!.data as Float32Array);
  }
  return Object.fromEntries([...calibrators].map(([t, c]) => [t, c.range()]));
}

type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;

async function call(worker: Worker, path: string, init?: RequestInit): Promise<Response> {
  const res = await worker.fetch(`http://bench${path}`, init as never);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res as unknown as Response;
}

const REPEATS = 5;

/** A key prepared in the bench Worker, and one sample of its ms per run: a request of n runs (about 120 ms) minus the
 * median empty request, over n. */
async function timer(worker: Worker, key: string): Promise<{ info: Record<string, unknown>; sample: () => Promise<number> }> {
  const q = encodeURIComponent(key);
  const info = (await (await call(worker, `/prepare?key=${q}`)).json()) as Record<string, unknown>;
  const wall = async (iters: number) => {
    const t0 = performance.now();
    await (await call(worker, `/run?key=${q}&iters=${iters}`)).text();
    return performance.now() - t0;
  };
  await wall(1);
  const overhead = median([await wall(0), await wall(0), await wall(0)]);
  const estimate = Math.max((await wall(1)) - overhead, 0.05);
  const iters = Math.min(64, Math.max(1, Math.ceil(120 / estimate)));
  return { info, sample: async () => ((await wall(iters)) - overhead) / iters };
}

/**
 * Median ms per run of `key`, and of `base` (FP32 on onnxruntime-web, same model and batch) timed in alternation
 * with it, REPEATS each: the bench Worker holds both sessions, so a busy spell on this shared machine slows both
 * sides of the ratio alike. Without `base`, the key alone.
 */
async function timeFamily(worker: Worker, key: string, base?: string): Promise<{ ms: number; baseMs?: number; info: Record<string, unknown> }> {
  const baseTimer = base ? await timer(worker, base) : undefined;
  const keyTimer = await timer(worker, key);
  const samples: number[] = [];
  const baseSamples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    if (baseTimer) baseSamples.push(await baseTimer.sample());
    samples.push(await keyTimer.sample());
  }
  return { ms: median(samples), baseMs: baseTimer ? median(baseSamples) : undefined, info: keyTimer.info };
}

let zoo: Map<string, ZooModel> | undefined;
/** The zoo's models by name, exported on first use (either block may run alone under -t). */
const zooModels = () =>
  (zoo ??= new Map(
    [...zooModelsIn(fullZooDir("core"), ensureFullZoo(CORE)), ...zooModelsIn(fullZooDir("families"), ensureFullZoo(OTHERS, "families"))].map((m) => [m.name, m]),
  ));

describe.each(NAMES)("%s on each engine", (name) => {
  it("times FP32 and its variants at batch 1 and 8 in one isolate", async () => {
    zooModels();
    // A fresh isolate per model: onnxruntime-web's heap never shrinks, so FP32's heap growth is measured on a fresh one
    // (its session is the first made), and no model's memory weighs on the next.
    const bench = await unstable_startWorker({
      config: join(ROOT, "bench/wrangler.toml"),
      dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "warn" },
    });
    try {
      await timeModel(bench, name);
    } finally {
      await bench.dispose();
    }
    expect(rows.some((r) => r.model === name && r.ms)).toBe(true);
  });
});

/** Every variant of one zoo model on each engine at each batch, into `rows`. */
async function timeModel(bench: Worker, name: string) {
  const m = zooModels().get(name)!;
  const model = decodeModel(m.bytes);
  const variants: { label: string; bytes: Uint8Array }[] = [{ label: "fp32", bytes: m.bytes }];
  for (const v of VARIANTS) {
    try {
      const ranges = v.calibrated ? await calibrationRanges(m) : undefined;
      variants.push({ label: v.label, bytes: compressModel(model, RecipeSchema.parse(v.recipe), ranges).bytes });
    } catch (err) {
      if (!(err instanceof NothingToCompressError)) throw err;
      rows.push({ model: name, variant: v.label, engine: "-", batch: 0, uncovered: `not made: ${err.message}` });
    }
  }
  const feeds = (batch: number) => call(bench, `/feeds?name=${name}/b${batch}`, { method: "POST", body: JSON.stringify(jsonFeeds(m, batch)) });
  for (const batch of BATCHES) await feeds(batch);
  const put = (v: { label: string; bytes: Uint8Array }) => call(bench, `/put?name=${name}/${v.label}`, { method: "POST", body: v.bytes });
  const fp32 = variants[0]!;
  for (const v of variants) {
    await put(v);
    const engines = v.label === "fp32" ? ["onnxruntime-web", "kernels"] : ["kernels", "onnxruntime-web"];
    for (const batch of BATCHES) {
      const baseKey = `family|${name}/fp32|${name}/b${batch}|onnxruntime-web`;
      for (const engine of engines) {
        const key = `family|${name}/${v.label}|${name}/b${batch}|${engine}`;
        const base = key === baseKey ? undefined : baseKey;
        try {
          const { ms, baseMs, info } = await timeFamily(bench, key, base).catch(async (err: Error) => {
            // workerd restarts an isolate that ran out of memory, and the uploads go with it: upload again, once.
            if (!String(err.message).includes("first")) throw err;
            await put(fp32);
            await put(v);
            await feeds(batch);
            return timeFamily(bench, key, base);
          });
          const ratio = baseMs ? Number((ms / baseMs).toFixed(3)) : 1;
          const row: Row = { model: name, variant: v.label, engine, batch, ms, ratio, residentBytes: info.residentBytes as number, modelBytes: v.bytes.byteLength, kernels: info.kernels as Record<string, string> | undefined };
          if (v.label === "1-bit" && engine === "kernels" && rows.some((r) => r.model === name && r.variant === "int4" && r.batch === batch && r.engine === "kernels" && r.ms)) {
            const side = await timeFamily(bench, key, `family|${name}/int4|${name}/b${batch}|kernels`);
            row.int4Ratio = Number((side.ms / side.baseMs!).toFixed(3));
          }
          rows.push(row);
          // A variant is served by the kernel engine where it covers the graph, else by onnxruntime-web. A dynamic
          // variant is timed on both: onnxruntime-web runs its integer ops as written, the engine as the weight-only form.
          if (v.label !== "fp32" && v.label !== "dynamic int8") break;
        } catch (err) {
          const message = String((err as Error).message);
          const limit = /LimitError: (?:.*?: )?(one run needs more than \d+ bytes of activations[^:"]*)/.exec(message);
          if (limit) {
            // The API answers such a request 413 on the engine that serves the variant; it is not retried elsewhere.
            rows.push({ model: name, variant: v.label, engine, batch, uncovered: `413 at this batch: ${limit[1]}` });
            break;
          }
          if (!message.includes("not covered")) throw err;
          rows.push({ model: name, variant: v.label, engine, batch, uncovered: message.replace(/^.*not covered: /s, "").split(/\\n|\n/)[0] });
        }
      }
    }
  }
}

describe("through the app Worker (as wrangler dev runs it)", () => {
  it("measures batch-1 client wall time above the empty route's against Server-Timing, over JSON and binary tensors", async () => {
    const app = await unstable_startWorker({
      config: join(ROOT, "wrangler.toml"),
      bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" } },
      dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "warn", persist: false },
    });
    await app.ready;
    const base = await app.url;
    const auth = { Authorization: "Bearer bench-token" };
    // Over HTTP to the dev server's address, as a client's requests go (wrangler's own fetch wrapper adds time per KB
    // of body that no client pays), accepting gzip as browsers and HTTP libraries do; timed up to the answer's last
    // byte as sent, not the client's own decompression or parse (Node's fetch spends ~30 ms gunzipping 440 KB).
    const agent = new http.Agent({ keepAlive: true });
    const send = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {}) =>
      new Promise<{ res: { headers: http.IncomingHttpHeaders; status: number }; bytes: Uint8Array; ms: number }>((resolve, reject) => {
        const url = new URL(path, base);
        const body = init.body === undefined ? undefined : typeof init.body === "string" ? Buffer.from(init.body) : init.body;
        const headers = { "Accept-Encoding": "gzip", ...init.headers, ...(body ? { "Content-Length": String(body.byteLength) } : {}) };
        const t0 = performance.now();
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? "GET", headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const ms = performance.now() - t0;
            const raw = Buffer.concat(chunks);
            const bytes = new Uint8Array(res.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw);
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) reject(new Error(`${path}: ${status} ${new TextDecoder().decode(bytes).slice(0, 300)}`));
            else resolve({ res: { headers: res.headers, status }, bytes, ms });
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });
    const json = async (path: string, init?: Parameters<typeof send>[1]) => {
      const r = await send(path, init);
      return { ...r, body: JSON.parse(new TextDecoder().decode(r.bytes)) as Record<string, unknown> };
    };
    try {
      const health: number[] = [];
      for (let i = 0; i < 30; i++) health.push((await send("/v1/health")).ms);
      const empty = median(health);
      for (const name of CLIENT_NAMES) {
        const m = zooModels().get(name)!;
        const { body: model } = await json(`/v1/models?name=bench-${name}`, { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: m.bytes });
        const { body: variant } = await json(`/v1/models/${model.id}/variants?wait=60`, {
          method: "POST",
          headers: { ...auth, "Content-Type": "application/json" },
          body: JSON.stringify({ quantize: { bits: 8 } }),
        });
        const jsonBody = JSON.stringify({ inputs: jsonFeeds(m, 1) });
        const feeds = Object.entries(seededFeeds(specsAt(m, 1), 1)).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: t.data as ArrayLike<number | bigint> }]);
        const binary = binaryInferBody(Object.fromEntries(feeds), { parameters: { binary_data_output: true } });
        for (const [label, version, query] of [["fp32", "32", "bits=32"], ["int8", String(variant.id), `variant=${variant.id}`]] as const) {
          const requests = {
            "v1-json": () => send(`/v1/models/${model.id}/infer?${query}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: jsonBody }),
            "v2-binary": () =>
              send(`/v2/models/${model.id}/versions/${version}/infer`, {
                method: "POST",
                headers: { ...auth, "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(binary.headerLength) },
                body: binary.body,
              }),
          };
          const engine = String(JSON.parse(new TextDecoder().decode((await requests["v1-json"]()).bytes)).engine);
          const samples = { "v1-json": [] as { ms: number; total: number; run: number }[], "v2-binary": [] as { ms: number; total: number; run: number }[] };
          for (const p of ["v1-json", "v2-binary"] as const) for (let i = 0; i < 2; i++) await requests[p]();
          // Interleaved, so that drift on a shared machine reaches both protocols alike.
          for (let i = 0; i < 9; i++) {
            for (const p of ["v1-json", "v2-binary"] as const) {
              const { res, ms } = await requests[p]();
              const timing = String(res.headers["server-timing"] ?? "");
              samples[p].push({ ms, total: Number(/total;dur=([\d.]+)/.exec(timing)?.[1] ?? NaN), run: Number(/run;dur=([\d.]+)/.exec(timing)?.[1] ?? NaN) });
            }
          }
          for (const p of ["v1-json", "v2-binary"] as const) {
            const clientMs = median(samples[p].map((x) => x.ms)) - empty;
            const serverTotalMs = median(samples[p].map((x) => x.total));
            clientRows.push({ model: name, variant: label, engine, protocol: p, clientMs, serverTotalMs, serverRunMs: median(samples[p].map((x) => x.run)), agreement: Number((clientMs / serverTotalMs).toFixed(3)) });
          }
        }
      }
      expect(clientRows.length).toBe(CLIENT_NAMES.length * 4);
    } finally {
      await app.dispose();
    }
  });
});

afterAll(() => {
  const result = {
    when: new Date().toISOString().slice(0, 10),
    machine: `${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ""}`.trim(),
    node: process.version,
    seconds: Math.round((Date.now() - started) / 1000),
    rows,
    client: clientRows,
  };
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log("\nmodel | variant | engine | batch | ms | ratio to fp32 on onnxruntime-web | resident MB | uncovered");
  for (const r of rows) {
    console.log([r.model, r.variant, r.engine, r.batch, r.ms?.toFixed(2) ?? "-", r.ratio ?? "-", r.residentBytes ? (r.residentBytes / 1e6).toFixed(1) : "-", r.uncovered ?? ""].join(" | "));
  }
  console.log("\nmodel | variant | engine | protocol | client ms above empty route | Server-Timing total | run | client / total");
  for (const c of clientRows) console.log([c.model, c.variant, c.engine, c.protocol, c.clientMs.toFixed(1), c.serverTotalMs, c.serverRunMs, c.agreement].join(" | "));
});
