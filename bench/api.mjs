// `npm run bench -- --only api`: what a client sees through wrangler's local dev server. The empty route (GET
// /v1/health) and inference on the bench MLP (784-1024-1024-10) and CNN, fp32 and int8 (and the MLP's 4-bit
// codebook and product quantization), batch 1 and 32, over /v1 JSON, V2 JSON and V2 binary: median client wall time to the answer's last byte. The engine's own time is the bench
// Worker's in-isolate time of the same model bytes on the engine the API reported (timed as run.mjs times models).
// Prints a table with the goals per row and writes bench/results/api.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { HEADER_LENGTH_HEADER, binaryInferBody } from "../formats/inference-v2.js";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (v, d = 2) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(d));
const INPUTS = { mlp: [784], cnn: [1, 28, 28] };
const REQUESTS = 100;

/** The three encodings of one request: a body and its headers. */
function encodings(dims) {
  const count = dims.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: count }, (_, i) => (i % 17) / 17);
  const list = Array.from(values);
  const binary = binaryInferBody({ input: { type: "float32", dims, data: values } }, { parameters: { binary_data_output: true } });
  return {
    "v1-json": { body: JSON.stringify({ inputs: { input: { type: "float32", dims, data: list } } }), headers: { "Content-Type": "application/json" } },
    "v2-json": { body: JSON.stringify({ inputs: [{ name: "input", shape: dims, datatype: "FP32", data: list }] }), headers: { "Content-Type": "application/json" } },
    "v2-binary": { body: binary.body, headers: { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(binary.headerLength) } },
  };
}

/** The bench Worker's variant (bench/worker.ts VARIANTS) that each bit-width the app serves here stands for. */
const VARIANT_OF_BITS = { 32: "fp32", 8: "int8", 4: "codebook4", 1: "pq8x256" };

/**
 * @param {{ startApp: () => Promise<{ app: any, auth: Record<string,string>, call: (path: string, init?: RequestInit) => Promise<any> }>,
 *   benchWorker: any, get: (worker: any, path: string) => Promise<any>, timeInterleaved: (worker: any, keys: string[], rounds?: number) => Promise<Record<string, number>> }} tools
 */
export async function apiBench({ startApp, benchWorker, get, timeInterleaved }) {
  let emptyMs;
  const started = Date.now();
  const bytes = { mlp: await get(benchWorker, "/bytes?name=mlp&variant=fp32"), cnn: await get(benchWorker, "/bytes?name=cnn&variant=fp32") };
  const { app, auth, call } = await startApp();
  const rows = [];
  const sends = [];
  // Timed requests go over HTTP to the dev server's address, as a client's do (wrangler's own `fetch` wrapper adds
  // about 2 ms per 100 KB of body that no client pays).
  const base = await app.url;
  const http = (/** @type {string} */ path, /** @type {RequestInit} */ init) => fetch(new URL(path, base), init);
  const empty = async () => (await http("/v1/health")).arrayBuffer();
  try {
    for (const name of ["mlp", "cnn"]) {
      const model = await call(`/v1/models?name=bench-${name}`, { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes[name] });
      await call(`/v1/models/${model.id}/variants?wait=25`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { bits: 8 } }) });
      // The MLP's 4-bit codebook (k-means weight sharing; served by the lut4 kernel) is its only 4-bit variant.
      if (name === "mlp") await call(`/v1/models/${model.id}/variants?wait=25`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { codebook: { bits: 4 } } }) });
      // Its product quantization (8-input sub-vectors, 256 centroids: one index bit per weight; the pq kernel) is its
      // only 1-bit variant, and the bench Worker's pq8x256 recipe.
      if (name === "mlp") await call(`/v1/models/${model.id}/variants?wait=25`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { pq: { subvector: 8, centroids: 256, seed: 0, iterations: 20 } } }) });
      for (const bits of name === "mlp" ? [32, 8, 4, 1] : [32, 8]) {
        for (const batch of [1, 32]) {
          const bodies = encodings([batch, ...INPUTS[name]]);
          const paths = { "v1-json": `/v1/models/${model.id}/infer?bits=${bits}`, "v2-json": `/v2/models/${model.id}/versions/${bits}/infer`, "v2-binary": `/v2/models/${model.id}/versions/${bits}/infer` };
          const engine = (await call(paths["v1-json"], { method: "POST", headers: { ...auth, ...bodies["v1-json"].headers }, body: bodies["v1-json"].body })).engine;
          for (const [protocol, { body, headers }] of Object.entries(bodies)) {
            const send = async () => {
              const res = await http(paths[protocol], { method: "POST", headers: { ...auth, ...headers }, body });
              const answer = await res.arrayBuffer();
              if (!res.ok) throw new Error(`${protocol} ${name} bits=${bits} batch=${batch}: ${res.status} ${new TextDecoder().decode(answer).slice(0, 300)}`);
              return res;
            };
            const first = await send();
            rows.push({ model: name, bits, batch, protocol, engine, bodyBytes: typeof body === "string" ? Buffer.byteLength(body) : body.byteLength, serverTiming: first.headers.get("Server-Timing") });
            sends.push(send);
          }
        }
      }
    }
    // Interleaved rounds: every configuration and the empty route once per round, so that drift in a shared machine's
    // load reaches all of them alike; each request's cost above the floor is its time less the same round's empty route.
    for (let i = 0; i < 4; i++) for (const send of sends) await send();
    const samples = rows.map(() => []);
    const above = rows.map(() => []);
    const emptySamples = [];
    for (let round = 0; round < REQUESTS; round++) {
      let t0 = performance.now();
      await empty();
      const floor = performance.now() - t0;
      emptySamples.push(floor);
      for (let k = 0; k < sends.length; k++) {
        t0 = performance.now();
        await sends[k]();
        const ms = performance.now() - t0;
        samples[k].push(ms);
        above[k].push(ms - floor);
      }
    }
    emptyMs = median(emptySamples);
    rows.forEach((r, k) => { r.ms = median(samples[k]); r.aboveEmptyMs = median(above[k]); });
  } finally {
    await app.dispose();
  }
  // The engine's own time, in the bench Worker, of the same bytes on the engine that served them: a model's variants
  // at one batch timed in alternation, as their int8/fp32 ratio is compared with the client's.
  const keyOf = (/** @type {any} */ r) => `model|${r.model}|${r.engine}|${VARIANT_OF_BITS[r.bits]}|${r.batch}`;
  /** @type {Record<string, number>} */
  const engineMs = {};
  for (const group of new Set(rows.map((r) => `${r.model}|${r.batch}`))) {
    const keys = [...new Set(rows.filter((r) => `${r.model}|${r.batch}` === group).map(keyOf))];
    Object.assign(engineMs, await timeInterleaved(benchWorker, keys));
  }
  for (const r of rows) r.engineMs = engineMs[keyOf(r)];
  const find = (/** @type {string} */ model, /** @type {number} */ bits, /** @type {number} */ batch, /** @type {string} */ protocol) => rows.find((r) => r.model === model && r.bits === bits && r.batch === batch && r.protocol === protocol);
  console.log(`\nThrough wrangler's dev server: median client wall time of ${REQUESTS} interleaved rounds (ms); the empty route took ${fmt(emptyMs)} ms`);
  console.log("model | bits | batch | engine | engine ms | v1 JSON | V2 JSON | V2 binary | binary - (empty + engine) (goal <= 1.5) | V2 JSON <= v1 JSON");
  const goals = [];
  for (const r of rows.filter((x) => x.protocol === "v2-binary")) {
    const v1 = find(r.model, r.bits, r.batch, "v1-json");
    const v2 = find(r.model, r.bits, r.batch, "v2-json");
    const overhead = r.aboveEmptyMs - r.engineMs;
    goals.push({ model: r.model, bits: r.bits, batch: r.batch, binaryOverheadMs: overhead, binaryWithin1_5: r.batch !== 32 || overhead <= 1.5, v2JsonNoSlower: v2.ms <= v1.ms * 1.05 });
    console.log([r.model, r.bits, r.batch, r.engine, fmt(r.engineMs), fmt(v1.ms), fmt(v2.ms), fmt(r.ms), fmt(overhead), v2.ms <= v1.ms * 1.05 ? "yes" : "no"].join(" | "));
  }
  console.log("\nint8/fp32 ratio of (client wall time - empty route) against the engine's own ratio (goal: within 0.1), V2 binary:");
  for (const model of ["mlp", "cnn"]) {
    for (const batch of [1, 32]) {
      const fp32 = find(model, 32, batch, "v2-binary");
      const int8 = find(model, 8, batch, "v2-binary");
      const client = int8.aboveEmptyMs / fp32.aboveEmptyMs;
      const engine = int8.engineMs / fp32.engineMs;
      goals.push({ model, batch, clientRatio: client, engineRatio: engine, ratioWithin0_1: Math.abs(client - engine) <= 0.1 });
      console.log(`${model} batch ${batch}: client ${fmt(client)} engine ${fmt(engine)} ${Math.abs(client - engine) <= 0.1 ? "met" : "not met"}`);
    }
  }
  const results = { when: new Date().toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, requests: REQUESTS, emptyMs, rows, goals, seconds: (Date.now() - started) / 1000 };
  mkdirSync(here("./results"), { recursive: true });
  writeFileSync(here("./results/api.json"), `${JSON.stringify(results, null, 1)}\n`);
  console.log(JSON.stringify({ emptyMs, goals }));
  return results;
}
