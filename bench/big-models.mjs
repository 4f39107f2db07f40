// npm run bench -- --only big-models: what uploading models larger than an isolate costs the Worker. Two torch-exported
// encoders (scripts/zoo/big_encoder.py, written once under .cache/big-models/): encoder-23m (~92 MB) sent as one
// request, and encoder-75m (~300 MB) sent in 16 MiB parts through /v1/uploads, against the app Worker in workerd
// (unstable_startWorker, as the rest of the bench). Per upload: the client's wall time and MB/s, and the peak resident
// growth of the app's workerd process over its resident size before the upload ("5" to /proc/PID/clear_refs resets
// VmHWM, as bench/adversarial.mjs does); the completing request (digest, skeleton, validation, copy to the model's
// address) is measured alone too. Local R2 is Miniflare's, served by workerd too, so its buffers count: an upper bound.
// Linux only. Writes bench/results/big-models.json and prints a table.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { memory, resetPeak, startedAt, workerdPids } from "./processes.mjs";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";
import * as ortNode from "onnxruntime-node";

const here = (/** @type {string} */ p) => fileURLToPath(new URL(p, import.meta.url));
const MiB = 2 ** 20;
const PART_BYTES = 16 * MiB;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (/** @type {string} */ message) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

/** @param {ArrayLike<number>} a @param {ArrayLike<number>} b */
function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** The model file for a preset, generated once. @param {string} preset */
function bigModel(preset) {
  const path = here(`../.cache/big-models/${preset}.onnx`);
  if (!existsSync(path)) {
    mkdirSync(here("../.cache/big-models"), { recursive: true });
    execFileSync("/usr/bin/python3", [here("../scripts/zoo/big_encoder.py"), "--preset", preset, "--out", path], { stdio: "inherit" });
  }
  return path;
}

/**
 * Runs `work` and measures the peak resident growth of process `pid` over its resident size before.
 * @template T @param {string} pid @param {() => Promise<T>} work
 */
async function peakOf(pid, work) {
  resetPeak(pid);
  const before = memory(pid).rss;
  const started = performance.now();
  const result = await work();
  const wallMs = performance.now() - started;
  return { result, wallMs, peakGrowthMiB: (memory(pid).hwm - before) / MiB, baseMiB: before / MiB };
}

export async function bigModelsRun() {
  const presets = { single: bigModel("encoder-23m"), parts: bigModel("encoder-75m"), served: bigModel("encoder-33m") };
  const worker = await unstable_startWorker({
    config: here("../wrangler.toml"),
    bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error", persist: false },
  });
  await worker.ready;
  const auth = { Authorization: "Bearer bench-token" };
  /**
   * One request through wrangler's proxy; an idempotent one (`retries`) that gets no answer within `timeoutMs` is sent
   * again (the proxy has been seen to hold a finished response).
   * @param {string} path @param {RequestInit} init @param {{ retries?: number, timeoutMs?: number }} options
   */
  const call = async (path, init = {}, { retries = 0, timeoutMs = 600_000 } = {}) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await worker.fetch(`http://bench${path}`, /** @type {any} */ ({ ...init, headers: { ...auth, ...(init.headers ?? {}) }, signal: AbortSignal.timeout(timeoutMs) }));
        const text = await res.text();
        if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 300)}`);
        return text ? JSON.parse(text) : null;
      } catch (err) {
        if (attempt >= retries || !(err instanceof Error && err.name === "TimeoutError")) throw err;
        log(`${init.method ?? "GET"} ${path}: no answer in ${timeoutMs} ms, sent again`);
      }
    }
  };
  try {
    await call("/v1/health");
    await sleep(1000);
    const pid = /** @type {string} */ (workerdPids().sort((a, b) => startedAt(b) - startedAt(a))[0]);
    const rows = [];

    // One request: the body streams to R2 in 8 MiB parts.
    const single = readFileSync(presets.single);
    const one = await peakOf(pid, () => call("/v1/models?name=encoder-23m", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: single }));
    rows.push({ upload: "one request", model: "encoder-23m", bytes: single.byteLength, parameters: one.result.parameters, wallMs: Math.round(one.wallMs), mbPerS: +(single.byteLength / 1e6 / (one.wallMs / 1000)).toFixed(1), peakGrowthMiB: +one.peakGrowthMiB.toFixed(1), baseMiB: +one.baseMiB.toFixed(1) });
    await sleep(1000);

    // In parts: plan, 16 MiB parts one after another, complete (measured alone as well).
    /** @param {string} path @param {string} name */
    const uploadInParts = async (path, name) => {
      const size = statSync(path).size;
      const file = readFileSync(path);
      let complete = { wallMs: 0, peakGrowthMiB: 0 };
      const whole = await peakOf(pid, async () => {
        const upload = await call("/v1/uploads", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ totalBytes: size, partBytes: PART_BYTES, name }) });
        const parts = [];
        for (let n = 1; n <= upload.parts; n++) {
          const body = file.subarray((n - 1) * PART_BYTES, Math.min(size, n * PART_BYTES));
          parts.push(await call(`/v1/uploads/${upload.id}/parts/${n}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body }));
        }
        const done = await peakOf(pid, () => call(`/v1/uploads/${upload.id}/complete`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ parts }) }));
        complete = done;
        return done.result;
      });
      return { size, whole, complete };
    };
    const { size, whole, complete } = await uploadInParts(presets.parts, "encoder-75m");
    rows.push({ upload: `in ${Math.ceil(size / PART_BYTES)} parts of 16 MiB`, model: "encoder-75m", bytes: size, parameters: whole.result.parameters, wallMs: Math.round(whole.wallMs), mbPerS: +(size / 1e6 / (whole.wallMs / 1000)).toFixed(1), peakGrowthMiB: +whole.peakGrowthMiB.toFixed(1), baseMiB: +whole.baseMiB.toFixed(1), completeMs: Math.round(complete.wallMs), completePeakGrowthMiB: +complete.peakGrowthMiB.toFixed(1) });

    // Compressing it one weight at a time (int8, then int4): the job's wall time from the request to its end, FP32
    // MB/s, the peak growth meanwhile; each variant downloaded and checked in onnxruntime-node against the FP32 model
    // on seeded token ids; then the one that serves (within MAX_WHOLE_MODEL_BYTES) asked for a batch-1 inference.
    const ids = Array.from({ length: 32 }, (_, i) => (i * 2654435761) % 4096);
    const feeds = { ids: new ortNode.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) };
    /** FP32 output in onnxruntime-node on the seeded ids. @param {string} path */
    const reference = async (path) => {
      const fp32 = await ortNode.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const out = /** @type {Float32Array} */ ((await fp32.run(feeds)).hidden.data);
      await fp32.release();
      return out;
    };
    const want = await reference(presets.parts);
    const compressions = [];
    log("uploaded; compressing");
    /** A variant job from its request to its end, with the peak growth meanwhile. @param {string} modelId @param {unknown} quantize @param {string} label */
    const makeVariant = (modelId, quantize, label) =>
      peakOf(pid, async () => {
        let job = await call(`/v1/models/${modelId}/variants`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ quantize }) });
        while (job.status !== "succeeded" && job.status !== "failed") {
          await sleep(1000);
          job = await call(job.url, {}, { retries: 3, timeoutMs: 30_000 });
        }
        if (job.status === "failed") throw new Error(`${label}: ${JSON.stringify(job.error)}`);
        return job.result;
      });
    /** A batch-1 inference on a variant, with the peak growth meanwhile (the first: its session loads). @param {string} modelId @param {string} variantId */
    const serve = (modelId, variantId) =>
      peakOf(pid, () =>
        call(`/v1/models/${modelId}/infer?variant=${variantId}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ inputs: { ids: { type: "int64", dims: [1, ids.length], data: ids } } }) }, { retries: 2, timeoutMs: 120_000 }),
      );
    for (const [label, quantize, bar] of /** @type {const} */ ([["int8", { bits: 8 }, 0.999], ["int4", { bits: 4 }, 0.99]])) {
      const made = await makeVariant(whole.result.id, quantize, label);
      const variant = made.result;
      log(`${label}: variant ${variant.id} made in ${Math.round(made.wallMs)} ms, peak +${made.peakGrowthMiB.toFixed(1)} MiB; downloading`);
      // Straight to the dev server's address: worker.fetch streams a big body through Node at well under 1 MB/s.
      const bytes = new Uint8Array(await (await fetch(new URL(`/v1/models/${whole.result.id}/variants/${variant.id}/onnx`, await worker.url), { headers: auth, signal: AbortSignal.timeout(300_000) })).arrayBuffer());
      log(`${label}: downloaded ${bytes.byteLength} bytes; checking in onnxruntime-node`);
      const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const got = /** @type {Float32Array} */ ((await session.run(feeds)).hidden.data);
      await session.release();
      let served = null;
      if (!variant.notServed) {
        log(`${label}: serving`);
        const infer = await serve(whole.result.id, variant.id);
        served = { engine: infer.result.engine, wallMs: Math.round(infer.wallMs), peakGrowthMiB: +infer.peakGrowthMiB.toFixed(1), cosine: +cosine(infer.result.outputs.hidden.data, want).toFixed(6) };
      }
      compressions.push({
        recipe: label,
        variantBytes: variant.bytes,
        sha256: variant.sha256,
        ratio: +variant.compressionRatio.toFixed(2),
        downloadedBytes: bytes.byteLength,
        wallMs: Math.round(made.wallMs),
        fp32MBPerS: +(size / 1e6 / (made.wallMs / 1000)).toFixed(1),
        peakGrowthMiB: +made.peakGrowthMiB.toFixed(1),
        cosineOrtNode: +cosine(got, want).toFixed(6),
        meetsBar: cosine(got, want) >= bar,
        notServed: variant.notServed ?? null,
        served,
      });
    }

    // The ~130 MB encoder (33M parameters): uploaded in parts, its int8 variant made and served at batch 1 (the
    // session's load is the first inference's; a second one runs on it warm).
    const medium = await uploadInParts(presets.served, "encoder-33m");
    rows.push({ upload: `in ${Math.ceil(medium.size / PART_BYTES)} parts of 16 MiB`, model: "encoder-33m", bytes: medium.size, parameters: medium.whole.result.parameters, wallMs: Math.round(medium.whole.wallMs), mbPerS: +(medium.size / 1e6 / (medium.whole.wallMs / 1000)).toFixed(1), peakGrowthMiB: +medium.whole.peakGrowthMiB.toFixed(1), baseMiB: +medium.whole.baseMiB.toFixed(1), completeMs: Math.round(medium.complete.wallMs), completePeakGrowthMiB: +medium.complete.peakGrowthMiB.toFixed(1) });
    const mediumWant = await reference(presets.served);
    const mediumMade = await makeVariant(medium.whole.result.id, { bits: 8 }, "encoder-33m int8");
    log(`encoder-33m int8: ${mediumMade.result.bytes} bytes in ${Math.round(mediumMade.wallMs)} ms; serving`);
    const first = await serve(medium.whole.result.id, mediumMade.result.id);
    const warm = await serve(medium.whole.result.id, mediumMade.result.id);
    const mediumServed = {
      model: "encoder-33m",
      recipe: "int8",
      variantBytes: mediumMade.result.bytes,
      ratio: +mediumMade.result.compressionRatio.toFixed(2),
      residentBytes: mediumMade.result.residentBytes,
      jobWallMs: Math.round(mediumMade.wallMs),
      jobPeakGrowthMiB: +mediumMade.peakGrowthMiB.toFixed(1),
      engine: first.result.engine,
      firstWallMs: Math.round(first.wallMs),
      firstPeakGrowthMiB: +first.peakGrowthMiB.toFixed(1),
      warmWallMs: Math.round(warm.wallMs),
      warmPeakGrowthMiB: +warm.peakGrowthMiB.toFixed(1),
      cosine: +cosine(first.result.outputs.hidden.data, mediumWant).toFixed(6),
    };

    for (const r of rows) {
      console.log(`${r.upload.padEnd(24)} ${r.model}  ${(r.bytes / 1e6).toFixed(1)} MB  ${r.wallMs} ms (${r.mbPerS} MB/s)  peak +${r.peakGrowthMiB} MiB over ${r.baseMiB} MiB${r.completeMs !== undefined ? `  complete ${r.completeMs} ms, peak +${r.completePeakGrowthMiB} MiB` : ""}`);
    }
    for (const c of compressions) {
      console.log(
        `${c.recipe} of encoder-75m: ${(c.variantBytes / 1e6).toFixed(1)} MB (${c.ratio}x) in ${c.wallMs} ms (${c.fp32MBPerS} MB/s of FP32), peak +${c.peakGrowthMiB} MiB; ` +
          `cosine in onnxruntime-node ${c.cosineOrtNode}; ${c.served ? `served on ${c.served.engine} in ${c.served.wallMs} ms, peak +${c.served.peakGrowthMiB} MiB, cosine ${c.served.cosine}` : `not served: ${c.notServed}`}`,
      );
    }
    const m = mediumServed;
    console.log(
      `int8 of encoder-33m: ${(m.variantBytes / 1e6).toFixed(1)} MB (${m.ratio}x), resident ${(m.residentBytes / MiB).toFixed(1)} MiB, job peak +${m.jobPeakGrowthMiB} MiB; ` +
        `served on ${m.engine}: first call ${m.firstWallMs} ms, peak +${m.firstPeakGrowthMiB} MiB; warm ${m.warmWallMs} ms, peak +${m.warmPeakGrowthMiB} MiB; cosine against onnxruntime-node FP32 ${m.cosine}`,
    );
    const results = { date: new Date().toISOString(), rows, compressions, served: [mediumServed] };
    writeFileSync(here("./results/big-models.json"), `${JSON.stringify(results, null, 1)}\n`);
  } finally {
    await worker.dispose();
  }
  // The same compression in Node, apart from local R2: what the pure module holds (bench/bounded.ts).
  const vitest = here("../node_modules/vitest/vitest.mjs");
  const bounded = spawnSync(process.execPath, [vitest, "run", "--config", here("./vitest.bounded.config.ts")], { stdio: "inherit", cwd: here("..") });
  if (bounded.status !== 0) process.exitCode = bounded.status ?? 1;
}
