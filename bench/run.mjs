// npm run bench: starts the bench Worker in workerd on loopback (wrangler's unstable_startWorker), collects kernel
// throughput, model latencies and compression throughput, times the same fp32 and int8 models on onnxruntime-node (one thread) in this
// process, then prints a table, writes bench/results/latest.json, renders docs/benchmarks.md's tables from it
// (bench/render.mjs) and ends with one JSON line.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import * as ortNode from "onnxruntime-node";
import { unstable_startWorker } from "wrangler";
import { writeBenchmarksDoc } from "./render.mjs";
import { writeZooDoc } from "./render-zoo.mjs";
import { adversarialRun } from "./adversarial.mjs";
import { bigModelsRun } from "./big-models.mjs";
import { writeFamiliesDoc } from "./render-families.mjs";
import { writeQualityDoc } from "./render-quality.mjs";
import { apiBench } from "./api.mjs";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const deadline = Date.now() + 10 * 60 * 1000;
// `--only compression` runs just the compression entries (throughput in the bench Worker, variant creation through
// the API) and writes bench/results/compression.json; `--only load` just the kernel-session loads of the 2048-wide
// MLP's variants (bench/results/load.json); `--only kernels` just the kernel throughput table and `--only models` just
// the model latencies on onnxruntime-web and the kernel engine (bench/results/kernels.json, models.json: quick checks
// of a kernel change); `--only zoo` the full model zoo under int8, int4 and dynamic int8 (bench/zoo.ts, a vitest run
// of that file alone, in Node: bench/results/zoo.json); `--only families` the engine on the full zoo's graph families
// (bench/families.ts, likewise: bench/results/families.json); `--only api` the client's wall time through the dev
// server over /v1 JSON, V2 JSON and V2 binary (bench/api.mjs: bench/results/api.json); `--only adversarial` the worst
// request of each attack class in workerd (bench/adversarial.mjs: bench/results/adversarial.json); `--only big-models`
// what uploading 92 MB and 300 MB encoders costs the Worker (bench/big-models.mjs: bench/results/big-models.json); `--only quality`
// the rounding quality of every reference model through the API in workerd (bench/quality.worker.ts:
// bench/results/quality.json); without it, the full run.
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const ONLY = ["compression", "load", "kernels", "models", "zoo", "families", "api", "adversarial", "quality", "big-models"];
if (only !== undefined && !ONLY.includes(only)) throw new Error(`--only takes ${ONLY.map((o) => `'${o}'`).join(", ")} (got '${only}')`);

async function get(worker, path) {
  if (Date.now() > deadline) throw new Error("bench ran past its 10-minute bound");
  const res = await worker.fetch(`http://bench${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  if (path.startsWith("/bytes")) return new Uint8Array(await res.arrayBuffer());
  return path.startsWith("/run") ? res.text() : res.json();
}

/** Median ms per call of fn(): calls sized to >= 100 ms, 5 repeats. */
async function timeNode(fn, repeats = 5) {
  for (let i = 0; i < 5; i++) await fn();
  let iters = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await fn();
    if (performance.now() - t0 >= 100 || iters >= 1 << 18) break;
    iters *= 2;
  }
  const samples = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await fn();
    samples.push((performance.now() - t0) / iters);
  }
  return median(samples);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time from here of one request that runs the prepared runnable `key` `iters` times inside workerd. */
function runTimer(worker, key) {
  const q = encodeURIComponent(key);
  return async (iters) => {
    const t0 = performance.now();
    await get(worker, `/run?key=${q}&iters=${iters}`);
    return performance.now() - t0;
  };
}

/**
 * Prepares `key`, warms it up (V8 tiers the kernels up after the first calls), takes the median request of 0 calls
 * over `overheadRuns` and sizes N calls to about `targetMs`.
 */
async function sizedRun(worker, key, targetMs, overheadRuns) {
  const info = await get(worker, `/prepare?key=${encodeURIComponent(key)}`);
  const wall = runTimer(worker, key);
  await wall(10);
  await wall(10);
  const empty = [];
  for (let i = 0; i < overheadRuns; i++) empty.push(await wall(0));
  const overhead = median(empty);
  const estimate = Math.max((await wall(8)) - overhead, 0.05) / 8;
  return { info, wall, overhead, iters: Math.min(1 << 18, Math.max(4, Math.ceil(targetMs / estimate))) };
}

/**
 * Median ms per call of a runnable inside workerd, timed from here (workerd's clock does not advance during
 * compute): requests of N calls (N sized to >= 150 ms) minus the median request of 0 calls, over N; `repeats` requests.
 */
async function timeInWorker(worker, key, repeats = 5) {
  const { info, wall, overhead, iters } = await sizedRun(worker, key, 150, 5);
  const samples = [];
  for (let r = 0; r < repeats; r++) samples.push(((await wall(iters)) - overhead) / iters);
  return { ...info, ms: median(samples), iters };
}

/**
 * timeInWorker for several runnables side by side: each sized to about 100 ms, then `rounds` rounds that time every
 * key once in turn, so that drift in a shared machine's load reaches all of them alike (their ratios are what is
 * compared). Median ms per call per key.
 */
async function timeInterleaved(worker, keys, rounds = 7) {
  const plan = [];
  for (const key of keys) plan.push({ key, ...(await sizedRun(worker, key, 100, 3)) });
  const samples = plan.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const overhead = median([await plan[0].wall(0), await plan[0].wall(0), await plan[0].wall(0)]);
    for (const [i, p] of plan.entries()) samples[i].push(((await p.wall(p.iters)) - overhead) / p.iters);
  }
  return Object.fromEntries(plan.map((p, i) => [p.key, median(samples[i])]));
}

/** An entry that takes seconds a run (AdaRound on a layer): one warm-up run, then `runs` single runs, their median. */
async function timeSlowInWorker(worker, key, runs = 3) {
  const info = await get(worker, `/prepare?key=${encodeURIComponent(key)}`);
  const wall = runTimer(worker, key);
  const once = () => wall(1);
  await once();
  const samples = [];
  for (let r = 0; r < runs; r++) samples.push(await once());
  return { ...info, ms: median(samples), iters: 1 };
}

const INPUTS = { mlp: [784], cnn: [1, 28, 28] };

async function nodeLatency(worker, name) {
  const rows = [];
  for (const variant of ["fp32", "int8"]) {
    const bytes = await get(worker, `/bytes?name=${name}&variant=${variant}`);
    const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
    for (const batch of [1, 32]) {
      const dims = [batch, ...INPUTS[name]];
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => (i % 17) / 17);
      const feeds = { input: new ortNode.Tensor("float32", data, dims) };
      rows.push({ engine: "onnxruntime-node", variant, batch, ms: await timeNode(() => session.run(feeds)) });
    }
    await session.release();
  }
  return rows;
}

/** The app Worker (wrangler.toml at the root, local R2/KV/Queues/DOs, nothing persisted) with a bench token, and a JSON caller. */
async function startApp() {
  const app = await unstable_startWorker({
    config: here("../wrangler.toml"),
    // The limiter still counts every request (its cost is measured); the bench's interleaved rounds send more than
    // the deployed 600 a minute.
    bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" }, RATE_LIMIT_REQUESTS: { type: "plain_text", value: "1000000" } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "warn", persist: false },
  });
  await app.ready;
  const auth = { Authorization: "Bearer bench-token" };
  const call = async (path, init) => {
    const res = await app.fetch(`http://api${path}`, init);
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  return { app, auth, call };
}

/**
 * The served path: the app Worker (wrangler.toml at the root, local R2/KV) with the MLP uploaded, an int8 variant
 * made through the API, and POST /infer at batch 1 timed from here for bits=32 and bits=8 (median of 200 each); then
 * the CNN and its 50%-channel-pruned variant, fp32 original against the variant (median of 100 each).
 */
async function apiLatency(mlpBytes, cnnBytes) {
  const { app, auth, call } = await startApp();
  try {
    const model = await call("/v1/models?name=bench-mlp", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: mlpBytes });
    const variant = await call(`/v1/models/${model.id}/variants?wait=25`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { bits: 8 } }) });
    const body = JSON.stringify({ inputs: { input: { type: "float32", dims: [1, 784], data: Array.from({ length: 784 }, (_, i) => (i % 17) / 17) } } });
    const rows = [];
    for (const bits of [32, 8]) {
      const infer = () => call(`/v1/models/${model.id}/infer?bits=${bits}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body });
      const first = await infer();
      for (let i = 0; i < 20; i++) await infer();
      const samples = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        await infer();
        samples.push(performance.now() - t0);
      }
      rows.push({ model: "mlp", bits, engine: first.engine, ms: median(samples), residentBytes: bits === 8 ? variant.residentBytes : undefined });
    }
    const cnn = await call("/v1/models?name=bench-cnn", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: cnnBytes });
    const recipe = { prune: { sparsity: 0.5, structure: "channel" } };
    const pruned = await call(`/v1/models/${cnn.id}/variants`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify(recipe) });
    const image = JSON.stringify({ inputs: { input: { type: "float32", dims: [1, 1, 28, 28], data: Array.from({ length: 784 }, (_, i) => (i % 17) / 17) } } });
    for (const [label, query] of [["fp32", "bits=32"], ["channel50", `variant=${pruned.id}`]]) {
      const infer = () => call(`/v1/models/${cnn.id}/infer?${query}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: image });
      const first = await infer();
      for (let i = 0; i < 20; i++) await infer();
      const samples = [];
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        await infer();
        samples.push(performance.now() - t0);
      }
      rows.push({ model: "cnn", variant: label, recipe: label === "fp32" ? undefined : recipe, engine: first.engine, ms: median(samples), residentBytes: label === "fp32" ? undefined : pruned.residentBytes });
    }
    return rows;
  } finally {
    await app.dispose();
  }
}

/**
 * Compression throughput: int8 per-channel weight-only of the 784-2048-2048-10 MLP, bytes in -> bytes out, in the
 * bench Worker; then the same recipe through POST /v1/models/:id/variants end to end (compress, sizes, serving
 * profile, R2/KV writes; a job run inline by ?wait=), timed by the client, each on a fresh upload (ids are content hashes: the model differs
 * only in its doc string).
 */
async function compressionEntries(worker, results) {
  const c = await timeInWorker(worker, "compress|2048");
  results.compression = { model: "mlp 784-2048-2048-10", recipe: { quantize: { bits: 8 } }, ...c, mbPerSecond: c.fp32WeightBytes / (c.ms * 1e3) };
  // GPTQ's cost per layer (the Hessian's factorisation is K^3, the feedback K^2 N): per million weights at two shapes.
  results.gptq = [];
  for (const [k, n] of [[784, 1024], [1024, 1024]]) {
    const g = await timeInWorker(worker, `gptq|${k}|${n}`, 3);
    results.gptq.push({ shape: [k, n], recipe: { bits: 4, granularity: { block: 32 }, rounding: "gptq" }, ms: g.ms, msPerMillionWeights: g.ms / (g.weights / 1e6) });
  }
  console.log(`GPTQ int4 block-32 in workerd: ${results.gptq.map((g) => `[${g.shape}] ${g.ms.toFixed(0)} ms (${g.msPerMillionWeights.toFixed(0)} ms per million weights)`).join(", ")}`);
  // AdaRound's cost: 500 Adam steps, each a K x K by K x N product on the kernels' GEMM plus the per-weight update.
  results.adaround = [];
  for (const [k, n] of [[256, 256], [512, 512]]) {
    const a = await timeSlowInWorker(worker, `adaround|${k}|${n}`, 2);
    results.adaround.push({ shape: [k, n], recipe: { bits: 4, granularity: { block: 32 }, rounding: "adaround" }, ms: a.ms, msPerMillionWeights: a.ms / (a.weights / 1e6) });
  }
  console.log(`AdaRound int4 block-32 in workerd: ${results.adaround.map((g) => `[${g.shape}] ${g.ms.toFixed(0)} ms (${g.msPerMillionWeights.toFixed(0)} ms per million weights)`).join(", ")}`);
  const { app, auth, call } = await startApp();
  try {
    const samples = [];
    let variant;
    for (let i = 0; i < 6; i++) {
      const bytes = await get(worker, `/bytes?name=mlp2048&variant=fp32&copy=${i}`);
      const model = await call(`/v1/models?name=bench-mlp2048-${i}`, { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
      const t0 = performance.now();
      variant = await call(`/v1/models/${model.id}/variants?wait=25`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { bits: 8 } }) });
      if (!variant.engine) throw new Error(`variant creation did not finish: ${JSON.stringify(variant)}`);
      if (i > 0) samples.push(performance.now() - t0); // the first request also compiles and tiers up
    }
    results.variantCreation = { model: "mlp 784-2048-2048-10", recipe: { quantize: { bits: 8 } }, ms: median(samples), samples, engine: variant.engine, residentBytes: variant.residentBytes, bytes: variant.bytes };
  } finally {
    await app.dispose();
  }
}

/**
 * Median ms of one kernel-session load (decode + plan + pack) per variant of the 784-2048-2048-10 MLP, one load per
 * request (loads take far longer than a request's overhead, which is subtracted anyway), 7 repeats after 2 warm-ups.
 */
async function loadEntries(worker, results) {
  const { loads } = await get(worker, "/list");
  results.loads = [];
  for (const variant of loads) {
    const key = `load|${variant}`;
    const info = await get(worker, `/prepare?key=${encodeURIComponent(key)}`);
    const wall = runTimer(worker, key);
    await wall(1);
    await wall(1);
    const overhead = median([await wall(0), await wall(0), await wall(0)]);
    const samples = [];
    for (let r = 0; r < 7; r++) samples.push((await wall(1)) - overhead);
    results.loads.push({ model: "mlp 784-2048-2048-10", variant, ms: median(samples), samples, ...info });
  }
}

function printLoads(results) {
  console.log("\nKernel-session load in workerd (decode + plan + pack), 784-2048-2048-10 MLP, median of 7:");
  console.log("variant | model bytes | packed weight bytes | ms | kernels");
  for (const r of results.loads) console.log([r.variant, r.modelBytes, r.weightBytes, fmt(r.ms, 1), Object.values(r.kernels).join("/")].join(" | "));
}

function printCompression(results) {
  const c = results.compression;
  console.log(`\nCompression throughput in workerd (int8 per-channel weight-only, ${c.model}, decode -> quantize -> encode, median of 5):`);
  console.log(`${fmt(c.fp32WeightBytes / 1e6, 1)} MB fp32 weights | ${fmt(c.ms, 1)} ms | ${fmt(c.mbPerSecond, 1)} MB/s`);
  const v = results.variantCreation;
  console.log(`POST /v1/models/:id/variants {quantize:{bits:8}} on the same model, through the API, median of ${v.samples.length}: ${fmt(v.ms, 1)} ms (engine ${v.engine}, residentBytes ${v.residentBytes})`);
}

const fmt = (v, d = 3) => (typeof v === "number" ? v.toFixed(d) : String(v ?? "-"));

/** The per-model latency tables, each row's ratio to fp32 on onnxruntime-web and the headline ratios. */
function printModels(results) {
  results.ratios = {};
  for (const [name, rows] of Object.entries(results.models)) {
    console.log(`\n${name}: median latency (ms) and ratio to fp32 on onnxruntime-web, same run`);
    console.log("engine | variant | batch | ms | ratio | resident bytes | kernels");
    const base = (batch) => rows.find((r) => r.engine === "onnxruntime-web" && r.variant === "fp32" && r.batch === batch)?.ms;
    for (const r of rows) {
      const ratio = r.ms && base(r.batch) ? r.ms / base(r.batch) : undefined;
      r.ratioToOrtWebFp32 = ratio;
      console.log([r.engine, r.variant, r.batch, fmt(r.ms), fmt(ratio), r.residentBytes ?? "-", r.kernels ? [...new Set(Object.values(r.kernels))].join("/") : r.error ?? "-"].join(" | "));
    }
    const ms = (engine, variant, batch) => rows.find((r) => r.engine === engine && r.variant === variant && r.batch === batch)?.ms;
    const resident = (engine, variant) => rows.find((r) => r.engine === engine && r.variant === variant)?.residentBytes;
    results.ratios[name] = {};
    for (const batch of [1, 32]) {
      results.ratios[name][`batch${batch}`] = {
        int8Kernels_over_fp32OrtWeb: ms("kernels", "int8", batch) / base(batch),
        int4Kernels_over_fp32OrtWeb: ms("kernels", "int4", batch) / base(batch),
        codebook4Kernels_over_fp32OrtWeb: ms("kernels", "codebook4", batch) / base(batch),
        codebook4Kernels_over_int4Kernels: ms("kernels", "codebook4", batch) / ms("kernels", "int4", batch),
        codebook4Kernels_over_int8Kernels: ms("kernels", "codebook4", batch) / ms("kernels", "int8", batch),
        pqKernels_over_fp32OrtWeb: ms("kernels", "pq8x256", batch) / base(batch),
        pqKernels_over_int4Kernels: ms("kernels", "pq8x256", batch) / ms("kernels", "int4", batch),
        pqKernels_over_int8Kernels: ms("kernels", "pq8x256", batch) / ms("kernels", "int8", batch),
        binaryKernels_over_fp32OrtWeb: ms("kernels", "binary", batch) / base(batch),
        ternaryKernels_over_ternaryOrtWeb: ms("kernels", "ternary", batch) / ms("onnxruntime-web", "ternary", batch),
        sparse90Kernels_over_fp32OrtWeb: ms("kernels", "sparse90", batch) / base(batch),
        fp32Kernels_over_fp32OrtWeb: ms("kernels", "fp32", batch) / base(batch),
        int8Kernels_over_int8OrtNode: ms("kernels", "int8", batch) / ms("onnxruntime-node", "int8", batch),
      };
    }
    results.ratios[name].int8KernelsResident_over_fp32OrtWebResident = resident("kernels", "int8") / resident("onnxruntime-web", "fp32");
  }
}

function printKernels(results) {
  console.log("\nKernel throughput in workerd (dense-equivalent GOP/s = 2MKN / time)");
  const names = Object.keys(results.kernels[0].gops);
  console.log(["kernel", ...results.kernels.map((k) => `M=${k.shape.M},K=${k.shape.K},N=${k.shape.N}`)].join(" | "));
  for (const n of names) console.log([n, ...results.kernels.map((k) => fmt(k.gops[n], 2))].join(" | "));
}

async function main() {
  const started = Date.now();
  const worker = await unstable_startWorker({
    config: here("./wrangler.toml"),
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "warn" },
  });
  await worker.ready;
  const results = { machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, kernels: [], models: {} };
  try {
    if (only === "compression") {
      await compressionEntries(worker, results);
      return;
    }
    if (only === "load") {
      await loadEntries(worker, results);
      return;
    }
    if (only === "api") {
      await apiBench({ startApp, benchWorker: worker, get, timeInterleaved });
      return;
    }
    const list = await get(worker, "/list");
    list.shapes.forEach((shape, i) => results.kernels.push({ shape: { M: shape[0], K: shape[1], N: shape[2] }, gops: {} }));
    for (const [i, entry] of only === "models" ? [] : results.kernels.entries()) {
      for (const name of list.kernels) {
        const t = await timeInWorker(worker, `kernel|${i}|${name}`);
        entry.gops[name] = t.ops / (t.ms * 1e6);
      }
    }
    if (only === "kernels") return;
    for (const name of list.models) {
      const rows = [];
      const runs = [["onnxruntime-web", "fp32"], ["onnxruntime-web", "int8"], ["onnxruntime-web", "ternary"], ...list.variants.map((v) => ["kernels", v])];
      for (const [engine, variant] of runs) {
        for (const batch of [1, 32]) {
          try {
            rows.push({ engine, variant, batch, ...(await timeInWorker(worker, `model|${name}|${engine}|${variant}|${batch}`)) });
          } catch (err) {
            rows.push({ engine, variant, batch, error: String(err.message ?? err).slice(0, 300) });
          }
        }
      }
      results.models[name] = only === "models" ? rows : [...rows, ...(await nodeLatency(worker, name))];
    }
    if (only === "models") return;
    // Pruned variants made by the real recipes, on the engine the API serves them with (3 repeats to bound the time).
    results.pruned = [];
    for (const [name, variants] of Object.entries(list.pruned)) {
      for (const variant of variants) {
        for (const batch of name === "mlp" ? [1, 32] : [1]) {
          try {
            results.pruned.push({ model: name, engine: "serving", variant, batch, ...(await timeInWorker(worker, `model|${name}|serving|${variant}|${batch}`, 3)) });
          } catch (err) {
            results.pruned.push({ model: name, engine: "serving", variant, batch, error: String(err.message ?? err).slice(0, 300) });
          }
        }
      }
    }
    await compressionEntries(worker, results);
    await loadEntries(worker, results);
    results.api = await apiLatency(await get(worker, "/bytes?name=mlp&variant=fp32"), await get(worker, "/bytes?name=cnn&variant=fp32"));
  } finally {
    await worker.dispose();
    if (only === "compression") {
      printCompression(results);
      results.seconds = (Date.now() - started) / 1000;
      mkdirSync(here("./results"), { recursive: true });
      writeFileSync(here("./results/compression.json"), `${JSON.stringify(results, null, 1)}\n`);
      console.log(JSON.stringify(results));
    }
    if (only === "load") {
      printLoads(results);
      results.seconds = (Date.now() - started) / 1000;
      mkdirSync(here("./results"), { recursive: true });
      writeFileSync(here("./results/load.json"), `${JSON.stringify(results, null, 1)}\n`);
      console.log(JSON.stringify(results));
    }
    if (only === "kernels" || only === "models") {
      if (only === "kernels") printKernels(results);
      else printModels(results);
      results.seconds = (Date.now() - started) / 1000;
      mkdirSync(here("./results"), { recursive: true });
      writeFileSync(here(`./results/${only}.json`), `${JSON.stringify(results, null, 1)}\n`);
      console.log(JSON.stringify(results));
    }
  }

  printKernels(results);

  printModels(results);
  console.log("\nPruned variants (real recipes) on the engine the API serves them with: median ms (3 repeats) and ratio to fp32 on onnxruntime-web, same run");
  console.log("model | variant | batch | served by | ms | ratio | kernels per layer");
  results.ratios.pruned = {};
  for (const r of results.pruned) {
    const base = results.models[r.model].find((b) => b.engine === "onnxruntime-web" && b.variant === "fp32" && b.batch === r.batch)?.ms;
    r.ratioToOrtWebFp32 = r.ms && base ? r.ms / base : undefined;
    results.ratios.pruned[`${r.model}/${r.variant}/batch${r.batch}`] = r.ratioToOrtWebFp32;
    console.log([r.model, r.variant, r.batch, r.servedBy ?? "-", fmt(r.ms), fmt(r.ratioToOrtWebFp32), r.kernels ? Object.values(r.kernels).join("/") : r.error ?? "-"].join(" | "));
  }
  printCompression(results);
  printLoads(results);
  console.log("\nThrough the HTTP API (wrangler's local workerd), MLP at batch 1, median of 200 requests timed by the client:");
  for (const r of results.api.filter((r) => r.model === "mlp")) console.log(`bits=${r.bits} | engine ${r.engine} | ${fmt(r.ms)} ms`);
  console.log("\nThrough the HTTP API, CNN at batch 1, median of 100 requests: fp32 original against the 50%-channel-pruned variant");
  const apiCnn = (v) => results.api.find((r) => r.model === "cnn" && r.variant === v);
  for (const r of results.api.filter((r) => r.model === "cnn")) console.log(`${r.variant} | engine ${r.engine} | ${fmt(r.ms)} ms`);
  results.ratios.api = { cnnChannel50_over_fp32: apiCnn("channel50").ms / apiCnn("fp32").ms };
  console.log(`channel50 / fp32 through the API: ${fmt(results.ratios.api.cnnChannel50_over_fp32)}`);
  results.seconds = (Date.now() - started) / 1000;
  console.log("\nratios:", JSON.stringify(results.ratios, null, 1));
  mkdirSync(here("./results"), { recursive: true });
  writeFileSync(here("./results/latest.json"), `${JSON.stringify(results, null, 1)}\n`);
  writeBenchmarksDoc();
  console.log(JSON.stringify(results));
}

/** `--only zoo`: bench/zoo.ts under its own vitest config, then docs/quantization.md's zoo table from its results. */
function zooRun() {
  const vitest = here("../node_modules/vitest/vitest.mjs");
  const run = spawnSync(process.execPath, [vitest, "run", "--config", here("./vitest.zoo.config.ts")], { stdio: "inherit", cwd: here("..") });
  if (run.status === 0) console.log(writeZooDoc() ? "docs/quantization.md: zoo table rewritten" : "docs/quantization.md: zoo table unchanged");
  process.exit(run.status ?? 1);
}

/** `--only families`: bench/families.ts under its own vitest config (results in bench/results/families.json). */
function familiesRun() {
  const vitest = here("../node_modules/vitest/vitest.mjs");
  const run = spawnSync(process.execPath, [vitest, "run", "--config", here("./vitest.families.config.ts")], { stdio: "inherit", cwd: here("..") });
  if (run.status === 0) console.log(writeFamiliesDoc() ? "docs/benchmarks.md: families tables rewritten" : "docs/benchmarks.md: families tables unchanged");
  process.exit(run.status ?? 1);
}

/**
 * `--only quality`: bench/quality.worker.ts under its own vitest config; the {"quality": rows} lines it prints become
 * bench/results/quality.json, and docs/quantization.md's quality table is rendered from that.
 */
function qualityRun() {
  const vitest = here("../node_modules/vitest/vitest.mjs");
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [vitest, "run", "--config", here("./vitest.quality.config.ts")], {
    stdio: ["inherit", "pipe", "inherit"],
    cwd: here(".."),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(run.stdout);
  if (run.status !== 0) process.exit(run.status ?? 1);
  // vitest prints each console.log line after its own colour codes.
  const rows = run.stdout
    .split("\n")
    .filter((line) => line.includes('{"quality":'))
    .flatMap((line) => JSON.parse(line.slice(line.indexOf('{"quality":'))).quality);
  const results = { date: new Date().toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model.trim(), node: process.version }, seconds: (performance.now() - t0) / 1000, rows };
  writeFileSync(here("./results/quality.json"), `${JSON.stringify(results, null, 1)}\n`);
  console.log(writeQualityDoc() ? "docs/quantization.md: quality table rewritten" : "docs/quantization.md: quality table unchanged");
}

if (only === "zoo") zooRun();
else if (only === "quality") qualityRun();
else if (only === "adversarial") adversarialRun().catch((err) => {
  console.error(err);
  process.exit(1);
});
else if (only === "families") familiesRun();
else if (only === "big-models") bigModelsRun().catch((err) => {
  console.error(err);
  process.exit(1);
});
else main().catch((err) => {
  console.error(err);
  process.exit(1);
});
