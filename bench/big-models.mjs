// npm run bench -- --only big-models: what uploading models larger than an isolate costs the Worker. Two torch-exported
// encoders (scripts/zoo/big_encoder.py, written once under .cache/big-models/): encoder-23m (~92 MB) sent as one
// request, and encoder-75m (~300 MB) sent in 16 MiB parts through /v1/uploads, against the app Worker in workerd
// (unstable_startWorker, as the rest of the bench). Per upload: the client's wall time and MB/s, and the peak resident
// growth of the app's workerd process over its resident size before the upload ("5" to /proc/PID/clear_refs resets
// VmHWM, as bench/adversarial.mjs does); the completing request (digest, skeleton, validation, copy to the model's
// address) is measured alone too. Local R2 is Miniflare's, served by workerd too, so its buffers count: an upper bound.
// Linux only. Writes bench/results/big-models.json and prints a table.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { memory, resetPeak, startedAt, workerdPids } from "./processes.mjs";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

const here = (/** @type {string} */ p) => fileURLToPath(new URL(p, import.meta.url));
const MiB = 2 ** 20;
const PART_BYTES = 16 * MiB;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const presets = { single: bigModel("encoder-23m"), parts: bigModel("encoder-75m") };
  const worker = await unstable_startWorker({
    config: here("../wrangler.toml"),
    bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error", persist: false },
  });
  await worker.ready;
  const auth = { Authorization: "Bearer bench-token" };
  /** @param {string} path @param {RequestInit} init */
  const call = async (path, init = {}) => {
    const res = await worker.fetch(`http://bench${path}`, /** @type {any} */ ({ ...init, headers: { ...auth, ...(init.headers ?? {}) } }));
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
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
    const size = statSync(presets.parts).size;
    const file = readFileSync(presets.parts);
    let complete = { wallMs: 0, peakGrowthMiB: 0 };
    const whole = await peakOf(pid, async () => {
      const upload = await call("/v1/uploads", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ totalBytes: size, partBytes: PART_BYTES, name: "encoder-75m" }) });
      const parts = [];
      for (let n = 1; n <= upload.parts; n++) {
        const body = file.subarray((n - 1) * PART_BYTES, Math.min(size, n * PART_BYTES));
        parts.push(await call(`/v1/uploads/${upload.id}/parts/${n}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body }));
      }
      const done = await peakOf(pid, () => call(`/v1/uploads/${upload.id}/complete`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ parts }) }));
      complete = done;
      return done.result;
    });
    rows.push({ upload: `in ${Math.ceil(size / PART_BYTES)} parts of 16 MiB`, model: "encoder-75m", bytes: size, parameters: whole.result.parameters, wallMs: Math.round(whole.wallMs), mbPerS: +(size / 1e6 / (whole.wallMs / 1000)).toFixed(1), peakGrowthMiB: +whole.peakGrowthMiB.toFixed(1), baseMiB: +whole.baseMiB.toFixed(1), completeMs: Math.round(complete.wallMs), completePeakGrowthMiB: +complete.peakGrowthMiB.toFixed(1) });

    // What a recipe on it answers today.
    const variant = await worker.fetch(`http://bench/v1/models/${whole.result.id}/variants`, /** @type {any} */ ({ method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { bits: 8 } }) }));
    const compress = { status: variant.status, answer: (await variant.text()).slice(0, 240) };

    for (const r of rows) {
      console.log(`${r.upload.padEnd(24)} ${r.model}  ${(r.bytes / 1e6).toFixed(1)} MB  ${r.wallMs} ms (${r.mbPerS} MB/s)  peak +${r.peakGrowthMiB} MiB over ${r.baseMiB} MiB${r.completeMs !== undefined ? `  complete ${r.completeMs} ms, peak +${r.completePeakGrowthMiB} MiB` : ""}`);
    }
    console.log(`int8 recipe on encoder-75m: ${compress.status} ${compress.answer}`);
    const results = { date: new Date().toISOString(), rows, compress };
    writeFileSync(here("./results/big-models.json"), `${JSON.stringify(results, null, 1)}\n`);
  } finally {
    await worker.dispose();
  }
}
