// npm run bench -- --only adversarial: for each attack class of issue #16, the worst requests we know how to send,
// against the app Worker in workerd (unstable_startWorker, as the rest of the bench), one request in flight at a time,
// and what each cost the workerd process that runs the app. wrangler starts two workerd processes under this one (its
// proxy Worker at once, the app's on the first request); the app's is the one whose CPU time grows most during a heavy
// calibration request (an inference at batch 25,000), and the run stops unless it grew at least 3x the other's. Per
// request: CPU = growth of that process's utime + stime (all its threads, /proc/PID/stat, 10 ms ticks) from before the
// request until 300 ms after the answer's last byte (so collection and work left behind count), less the process's
// idle rate (measured over 3 s before the first request) over the same span; memory = peak resident growth: "5"
// written to /proc/PID/clear_refs resets VmHWM to the current RSS, then VmHWM after the request less VmRSS before it.
// Both are the whole process's (workerd's own buffers and every isolate of the app, Durable Objects included). Every
// attack runs twice: in turn on the calibration's warm Worker (a lower bound for memory: pages its heap kept from
// earlier requests absorb part of a request's growth), and alone on a fresh Worker (models uploaded and served once
// first, then a second to settle; found as the workerd started last, which the calibration checks is the app's: an
// upper bound, as a fresh heap grows for its first large request and its garbage waits longer for collection). A
// class's worst is the worst of both. Two controls, on the calibration's Worker, check the method: GET /v1/health
// must read ~0 and the calibration request clearly more. Bodies are built before the clock starts; a
// connection closed before an answer is a row with status 0. Linux only. Writes bench/results/adversarial.json,
// prints a table, and renders docs/benchmarks.md's section from it (bench/render-adversarial.mjs).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { memory, resetPeak, startedAt, workerdPids } from "./processes.mjs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { toBinary, create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, ModelProtoSchema, NodeProtoSchema, SparseTensorProtoSchema, TensorProtoSchema } from "onnx-buf";
import { unstable_startWorker } from "wrangler";
import { modelSeeds } from "../scripts/fuzz/cases.mjs";
import { encodeNpy } from "../formats/npy.js";
import { encodeNpzDeflated } from "../formats/npz.js";
import { writeAdversarialDoc, BUDGET } from "./render-adversarial.mjs";

const here = (/** @type {string} */ p) => fileURLToPath(new URL(p, import.meta.url));
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
/** After the answer's last byte, how long the process may go on working for the request. */
const SETTLE_MS = 300;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU ms (utime + stime of every thread) of a process now. @param {string} pid */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/**
 * Sends one prepared request and measures what it cost process `pid`.
 * @param {string} pid @param {number} idleMsPerMs @param {() => Promise<{status: number, text: string, timing: string | null}>} request
 */
async function measure(pid, idleMsPerMs, request) {
  resetPeak(pid);
  const before = { cpu: cpuMs(pid), rss: memory(pid).rss };
  const started = performance.now();
  const answer = await request();
  const wallMs = performance.now() - started;
  await sleep(SETTLE_MS);
  const spanMs = performance.now() - started;
  const after = { cpu: cpuMs(pid), hwm: memory(pid).hwm };
  const cpu = Math.max(0, after.cpu - before.cpu - idleMsPerMs * spanMs);
  return { ...answer, wallMs, cpuMs: cpu, peakGrowthMiB: (after.hwm - before.rss) / 2 ** 20 };
}

/** The error body's message, or the start of a body that is not one (workerd's own pages). @param {string} text */
function errorMessage(text) {
  try {
    return String(JSON.parse(text).error?.message ?? text).slice(0, 120);
  } catch {
    return text.slice(0, 120);
  }
}

function sparseBomb() {
  const m = modelSeeds()[3];
  const g = /** @type {any} */ (m).graph;
  g.sparseInitializer = [create(SparseTensorProtoSchema, { dims: [20000n, 10000n], values: create(TensorProtoSchema, { name: "w", dataType: 1, dims: [0n] }) })];
  return toBinary(ModelProtoSchema, /** @type {any} */ (m));
}

function longChain(/** @type {number} */ nodes, /** @type {number} */ inputs) {
  const m = /** @type {any} */ (modelSeeds()[0]);
  const g = m.graph;
  const first = g.node[0];
  for (let i = 1; i < inputs; i++) g.input.push({ ...g.input[0], name: `extra${i}` });
  const relus = [];
  for (let i = 0; i < nodes - g.node.length; i++) relus.push({ ...first, opType: "Relu", name: "", input: [i === 0 ? "y" : `c${i - 1}`], output: [`c${i}`], attribute: [] });
  g.node.push(...relus);
  return toBinary(ModelProtoSchema, m);
}

/** The broadcast seed with its [N,N] sum reduced to one number: a 16M-element activation behind a one-element answer. */
function broadcastReduced() {
  const m = /** @type {any} */ (modelSeeds()[4]);
  const g = m.graph;
  const keepdims = create(AttributeProtoSchema, { name: "keepdims", type: 2, i: 0n });
  g.node.push(create(NodeProtoSchema, { opType: "ReduceSum", name: "reduce", input: ["y"], output: ["s"], attribute: [keepdims] }));
  const out = g.output[0];
  out.name = "s";
  out.type.value.value.shape.dim = [];
  return toBinary(ModelProtoSchema, m);
}

function negativeStrides() {
  const m = /** @type {any} */ (modelSeeds()[1]);
  const conv = m.graph.node[0];
  conv.attribute = conv.attribute.map((/** @type {any} */ a) => (a.name === "strides" ? { ...a, ints: [-1n, -1n] } : a));
  return toBinary(ModelProtoSchema, m);
}

/** The attacks: [class, what, prepare], each prepare building the body and returning the request to send. */
function attacks(/** @type {Send} */ send, /** @type {{ mlpId: string, broadcastId: string, reducedId: string }} */ ids) {
  const upload = (/** @type {Uint8Array} */ bytes, path = "/v1/models") => send(path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
  const json = (/** @type {string} */ body, type = "application/json") => ({ method: "POST", headers: { "Content-Type": type }, body });
  const infer = (/** @type {string} */ id, /** @type {string} */ body, type = "application/json") => send(`/v1/models/${id}/infer`, json(body, type));
  const broadcast = (/** @type {number} */ n) => () => infer(ids.broadcastId, inferBody({ a: { dims: [1, n], n }, b: { dims: [n, 1], n } }));
  /** Rows of the MLP's 8 inputs whose JSON body is about `mib` MiB. */
  const rowsFor = (/** @type {number} */ mib) => Math.floor((mib * 2 ** 20) / (8 * 19.3));
  /** @type {[string, string, () => (() => Promise<Answer>) | Promise<() => Promise<Answer>>][]} */
  const list = [
    ["decompression bomb", ".npz of 50 KiB inflating to 52 MB", async () => upload(await npzBomb(), "/v1/datasets")],
    ["graph size", "19,999 nodes, 2,000 graph inputs (under the cap)", () => upload(longChain(19_999, 2_000))],
    ["graph size", "20,001 nodes (over the cap)", () => upload(longChain(20_001, 1))],
    ["declared sizes", "a ~150-byte model declaring 2e8 elements", () => upload(sparseBomb())],
    ["unbounded outputs", "broadcast [1,5000]+[5000,1]: 25M elements", broadcast(5000)],
    ["unbounded outputs", "broadcast [1,2048]+[2048,1]: 4M elements", broadcast(2048)],
    ["unbounded outputs", "broadcast [1,1024]+[1024,1]: 1M elements", broadcast(1024)],
    ["unbounded outputs", "broadcast [1,724]+[724,1]: 524,176 elements (near the most allowed)", broadcast(724)],
    ["unbounded outputs", "broadcast [1,3547]+[3547,1] summed: a 12.6M-element activation (the most allowed), one number out", () =>
      infer(ids.reducedId, inferBody({ a: { dims: [1, 3547], n: 3547 }, b: { dims: [3547, 1], n: 3547 } }))],
    ["unbounded outputs", "broadcast [1,4096]+[4096,1] summed: a 16.8M-element activation (over the bound)", () =>
      infer(ids.reducedId, inferBody({ a: { dims: [1, 4096], n: 4096 }, b: { dims: [4096, 1], n: 4096 } }))],
    ["attributes", "Conv with strides [-1,-1]", () => upload(negativeStrides())],
    ["body limits", "inference body of ~3.9 MiB JSON (under the 4 MiB limit)", () => infer(ids.mlpId, inferBody({ x: { dims: [rowsFor(3.9), 8], n: rowsFor(3.9) * 8 } }))],
    ["body limits", "inference body of ~31 MiB JSON (the limit before it was 8 MiB)", () => infer(ids.mlpId, inferBody({ x: { dims: [rowsFor(31), 8], n: rowsFor(31) * 8 } }))],
    ["body limits", "inference body of ~36 MiB JSON (over the limit)", () => infer(ids.mlpId, inferBody({ x: { dims: [rowsFor(36), 8], n: rowsFor(36) * 8 } }))],
    ["body limits", "V2 body of ~11.9 MiB binary tensor (390K rows, under the 12 MiB limit)", () => v2Binary(390_000)],
    ["body limits", "V2 body of ~31 MiB binary tensor (1M rows, over the limit)", () => v2Binary(1_000_000)],
    ["body limits", "~36 MiB as Application/X+JSON, streamed without a length", () => {
      const body = new TextEncoder().encode(inferBody({ x: { dims: [rowsFor(36), 8], n: rowsFor(36) * 8 } }));
      return send(`/v1/models/${ids.mlpId}/infer`, { method: "POST", headers: { "Content-Type": "Application/X+JSON" }, body: chunked(body), duplex: "half" });
    }],
    ["body limits", "POST /login with a 8 MiB form", () => send("/login", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `token=${"a".repeat(8 * 2 ** 20)}` })],
    ["body limits", "model upload of 60 MiB of junk (under the upload limit)", () => upload(junk(60 * 2 ** 20))],
  ];
  return list;

  /** A V2 inference of `rows` x 8 float32 as one binary tensor after its JSON header. */
  function v2Binary(/** @type {number} */ rows) {
    const header = new TextEncoder().encode(JSON.stringify({ inputs: [{ name: "x", shape: [rows, 8], datatype: "FP32", parameters: { binary_data_size: rows * 32 } }] }));
    const body = new Uint8Array(header.byteLength + rows * 32);
    body.set(header);
    body.fill(0x3f, header.byteLength); // every float 0.747
    return send(`/v2/models/${ids.mlpId}/infer`, { method: "POST", headers: { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(header.byteLength) }, body });
  }
}

/** A body as a stream of 1 MiB chunks (no Content-Length). @param {Uint8Array} bytes */
function chunked(bytes) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.subarray(at, at + 2 ** 20));
      at += 2 ** 20;
    },
  });
}

/** Seeded bytes that are no model. @param {number} n */
function junk(n) {
  const out = new Uint8Array(n);
  let a = 16;
  for (let i = 0; i < n; i++) {
    a = (a * 1103515245 + 12345) >>> 0;
    out[i] = a >>> 24;
  }
  return out;
}

function npzBomb() {
  const zeros = encodeNpy({ dtype: "float32", shape: [13_000_000], data: new Float32Array(13_000_000) });
  return encodeNpzDeflated({ "x.npy": zeros });
}

/** An inference body of float32 tensors, values (i % 97) / 97. @param {Record<string, {dims: number[], n: number}>} inputs */
const inferBody = (inputs) =>
  JSON.stringify({ inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { type: "float32", dims: v.dims, data: Array.from({ length: v.n }, (_, i) => (i % 97) / 97) }])) });

/** @typedef {{ status: number, text: string, timing: string | null }} Answer */
/** @typedef {(path: string, init: RequestInit & { duplex?: string }) => () => Promise<Answer>} Send */

/** The workerd under this one that started last: the app's, which wrangler starts after its proxy. */
const newestWorkerd = () => /** @type {string} */ (workerdPids().sort((a, b) => startedAt(b) - startedAt(a))[0]);

/**
 * A fresh app Worker with the bench token, the rows' models uploaded and each served once (so no row pays for a first
 * load or compile), and a caller; the Worker's process is then left to settle for a second.
 */
async function startApp() {
  const worker = await unstable_startWorker({
    config: here("../wrangler.toml"),
    bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error", persist: false },
  });
  await worker.ready;
  const auth = { Authorization: "Bearer bench-token" };
  /** @type {Send} */
  const send = (path, init) => async () => {
    try {
      const res = await worker.fetch(`http://bench${path}`, /** @type {any} */ ({ ...init, headers: { ...auth, ...(init.headers ?? {}) } }));
      const text = await res.text();
      return { status: res.status, text, timing: res.headers.get("Server-Timing") };
    } catch (err) {
      // A connection closed before the answer: status 0, and the row says so.
      const cause = /** @type {any} */ (err).cause;
      return { status: 0, text: `no answer: ${String(/** @type {any} */ (err).message)}${cause ? ` (${cause.code ?? cause.message})` : ""}`, timing: null };
    }
  };
  const [mlp, , , , broadcast] = modelSeeds().map((m) => toBinary(ModelProtoSchema, m));
  const uploadModel = async (/** @type {Uint8Array} */ bytes) => JSON.parse((await send("/v1/models", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes })()).text).id;
  const ids = {
    mlpId: await uploadModel(/** @type {Uint8Array} */ (mlp)),
    broadcastId: await uploadModel(/** @type {Uint8Array} */ (broadcast)),
    reducedId: await uploadModel(broadcastReduced()),
  };
  const small = (/** @type {string} */ id, /** @type {string} */ body) => send(`/v1/models/${id}/infer`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  await small(ids.mlpId, inferBody({ x: { dims: [4, 8], n: 32 } }))();
  await small(ids.broadcastId, inferBody({ a: { dims: [1, 4], n: 4 }, b: { dims: [4, 1], n: 4 } }))();
  const warmReduced = await small(ids.reducedId, inferBody({ a: { dims: [1, 4], n: 4 }, b: { dims: [4, 1], n: 4 } }))();
  if (warmReduced.status !== 200) throw new Error(`the reduced broadcast model does not serve: ${warmReduced.status} ${warmReduced.text}`);
  await sleep(1000);
  return { worker, send, ids, small };
}

export async function adversarialRun() {
  const started = Date.now();
  const first = await startApp();
  const { send, ids, small } = first;
  let firstDisposed = false;
  try {
    const calibration = small(ids.mlpId, inferBody({ x: { dims: [25_000, 8], n: 200_000 } })); // within MAX_JSON_BYTES
    await calibration();

    // Which workerd runs the app: the one whose CPU grows most during the calibration request; it must also be the
    // one started last, which is how each fresh Worker's is found below.
    const pids = workerdPids();
    const cpuBefore = pids.map(cpuMs);
    const calibrated = await calibration();
    const grew = pids.map((pid, i) => ({ pid, cpuMs: cpuMs(pid) - /** @type {number} */ (cpuBefore[i]) })).sort((a, b) => b.cpuMs - a.cpuMs);
    const app = /** @type {{pid: string, cpuMs: number}} */ (grew[0]);
    if (calibrated.status !== 200 || app.cpuMs < 50 || grew.slice(1).some((g) => g.cpuMs * 3 > app.cpuMs) || app.pid !== newestWorkerd()) {
      throw new Error(`cannot tell which workerd runs the app: CPU ms per process during the calibration request ${JSON.stringify(grew)}, newest ${newestWorkerd()}`);
    }
    const pid = app.pid;
    await sleep(1000);
    const idleStart = { cpu: cpuMs(pid), at: performance.now() };
    await sleep(3000);
    const idleMsPerMs = (cpuMs(pid) - idleStart.cpu) / (performance.now() - idleStart.at);

    const rowOf = (/** @type {string} */ cls, /** @type {string} */ what, /** @type {Awaited<ReturnType<typeof measure>>} */ m) => {
      const row = {
        class: cls, request: what, status: m.status, wallMs: Math.round(m.wallMs), cpuMs: Math.round(m.cpuMs), peakGrowthMiB: +m.peakGrowthMiB.toFixed(1),
        answer: m.status >= 400 || m.status === 0 ? errorMessage(m.text) : `${(m.text.length / 2 ** 20).toFixed(1)} MiB`, serverTiming: m.timing ?? undefined,
      };
      console.log(`${cls.padEnd(20)} ${String(m.status).padEnd(4)} wall ${String(row.wallMs).padStart(6)} ms  cpu ${String(row.cpuMs).padStart(6)} ms  peak +${row.peakGrowthMiB} MiB  ${what} -> ${row.answer}${m.timing ? `  [${m.timing}]` : ""}`);
      return row;
    };
    const controls = [
      rowOf("control", "GET /v1/health (cheap: should read ~0)", await measure(pid, idleMsPerMs, send("/v1/health", {}))),
      rowOf("control", "MLP inference at batch 25,000, 3.7 MiB of JSON (heavy, legitimate)", await measure(pid, idleMsPerMs, calibration)),
    ];
    // The attacks twice: in turn on the calibration's warm Worker, whose heap earlier requests have grown (a lower
    // bound: pages it kept absorb part of a request's growth), then each on a fresh Worker (an upper bound: a fresh
    // heap grows for its first large request, and garbage waits longer for collection there).
    const rows = [];
    for (const [cls, what, prepare] of attacks(send, ids)) {
      const request = await prepare();
      rows.push({ worker: "warm", ...rowOf(cls, `${what} [warm]`, await measure(pid, idleMsPerMs, request)), request: what });
      await sleep(500);
    }
    const warmHealth = (await send("/v1/health", {})()).status;
    await first.worker.dispose();
    firstDisposed = true;
    let health = 0;
    const count = attacks(send, ids).length;
    for (let i = 0; i < count; i++) {
      const app = await startApp();
      try {
        const [cls, what, prepare] = /** @type {[string, string, () => any]} */ (attacks(app.send, app.ids)[i]);
        const request = await prepare();
        rows.push({ worker: "fresh", ...rowOf(cls, `${what} [fresh]`, await measure(newestWorkerd(), idleMsPerMs, request)), request: what });
        if (i === count - 1) health = Math.max(warmHealth, (await app.send("/v1/health", {})()).status);
      } finally {
        await app.worker.dispose();
      }
    }
    console.log(`/v1/health afterwards: ${health}`);
    /** The worst request of each class against the budget. */
    const classes = [...new Set(rows.map((r) => r.class))].map((cls) => {
      const of = rows.filter((r) => r.class === cls);
      const cpu = Math.max(...of.map((r) => r.cpuMs));
      const mem = Math.max(...of.map((r) => r.peakGrowthMiB));
      return { class: cls, worstCpuMs: cpu, worstPeakGrowthMiB: mem, withinBudget: cpu <= BUDGET.cpuMs && mem <= BUDGET.peakGrowthMiB };
    });
    for (const c of classes) console.log(`${c.class.padEnd(20)} worst cpu ${c.worstCpuMs} ms, peak +${c.worstPeakGrowthMiB} MiB: ${c.withinBudget ? "within" : "OVER"} the budget`);
    const results = {
      when: new Date().toISOString().slice(0, 10), machine: `${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ""}`.trim(), node: process.version,
      seconds: Math.round((Date.now() - started) / 1000),
      method: { appPid: pid, calibrationCpuMsByProcess: grew, idleMsPerSecond: +(idleMsPerMs * 1000).toFixed(2), settleMs: SETTLE_MS, tickMs: TICK_MS },
      budget: BUDGET, controls, classes, rows, health,
    };
    writeFileSync(here("./results/adversarial.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log(writeAdversarialDoc() ? "docs/benchmarks.md: adversarial table rewritten" : "docs/benchmarks.md: adversarial table unchanged");
  } finally {
    if (!firstDisposed) await first.worker.dispose();
  }
}
