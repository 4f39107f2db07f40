// npm run bench -- --only adversarial: for each attack class of issue #16, the worst request we know how to send,
// against the app Worker in workerd (unstable_startWorker, as the rest of the bench): its status, wall time (the body is
// built before the clock starts) and what /proc says the workerd process under this one spent (utime + stime, growth of
// VmHWM and VmRSS). Linux only. Caveat: with wrangler 4.86 those /proc figures stayed near 0 while requests took hundreds
// of ms, so they are not yet a trusted measure of the isolate's CPU and memory; wall time is. Writes
// bench/results/adversarial.json and prints a table.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { toBinary, create } from "@bufbuild/protobuf";
import { ModelProtoSchema, SparseTensorProtoSchema, TensorProtoSchema } from "onnx-buf";
import { unstable_startWorker } from "wrangler";
import { modelSeeds } from "../scripts/fuzz/cases.mjs";
import { encodeNpy } from "../formats/npy.js";
import { encodeNpzDeflated } from "../formats/npz.js";

const here = (/** @type {string} */ p) => fileURLToPath(new URL(p, import.meta.url));
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

/** The workerd process under this one that runs the app (miniflare may start more than one: the largest). */
function workerdPid() {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,comm="]).toString().trim().split("\n").map((l) => l.trim().split(/\s+/));
  const children = new Map();
  for (const [pid, ppid, comm] of rows) children.set(ppid, [...(children.get(ppid) ?? []), { pid, comm }]);
  const stack = [String(process.pid)];
  const found = [];
  while (stack.length) {
    for (const c of children.get(stack.pop()) ?? []) {
      if (c.comm.startsWith("workerd")) found.push(c.pid);
      stack.push(c.pid);
    }
  }
  if (!found.length) throw new Error("no workerd process found under this one");
  return found.sort((a, b) => sample(b).rss - sample(a).rss)[0];
}

/** CPU ms, peak RSS and RSS (bytes) of a process now. @param {string} pid */
function sample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (/** @type {string} */ key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { cpuMs, hwm: kb("VmHWM"), rss: kb("VmRSS") };
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

function negativeStrides() {
  const m = /** @type {any} */ (modelSeeds()[1]);
  const conv = m.graph.node[0];
  conv.attribute = conv.attribute.map((/** @type {any} */ a) => (a.name === "strides" ? { ...a, ints: [-1n, -1n] } : a));
  return toBinary(ModelProtoSchema, m);
}

export async function adversarialRun() {
  const worker = await unstable_startWorker({
    config: here("../wrangler.toml"),
    bindings: { TOKENS: { type: "plain_text", value: "bench-token:bench" } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error", persist: false },
  });
  await worker.ready;
  const auth = { Authorization: "Bearer bench-token" };
  const pid = workerdPid();
  /** A prepared request: its body is built before the clock starts. */
  const send = (/** @type {string} */ path, /** @type {RequestInit} */ init) => async () => {
    const res = await worker.fetch(`http://bench${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
    const text = await res.text();
    return { status: res.status, text };
  };
  const upload = (/** @type {Uint8Array} */ bytes, path = "/v1/models") => send(path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
  const inferBody = (/** @type {Record<string, {dims: number[], n: number}>} */ inputs) =>
    JSON.stringify({ inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { type: "float32", dims: v.dims, data: Array.from({ length: v.n }, (_, i) => (i % 97) / 97) }])) });
  const json = (/** @type {string} */ body) => ({ method: "POST", headers: { "Content-Type": "application/json" }, body });
  try {
    const [mlp, , , , broadcast] = modelSeeds().map((m) => toBinary(ModelProtoSchema, m));
    const mlpId = JSON.parse((await upload(/** @type {Uint8Array} */ (mlp))()).text).id;
    const broadcastId = JSON.parse((await upload(/** @type {Uint8Array} */ (broadcast))()).text).id;
    const zeros = encodeNpy({ dtype: "float32", shape: [13_000_000], data: new Float32Array(13_000_000) });
    const npzBomb = await encodeNpzDeflated({ "x.npy": zeros });
    const rowsIn32MiB = 400_000;
    /** @type {[string, string, () => () => Promise<{status: number, text: string}>][]} */
    const attacks = [
      ["decompression bomb", `.npz of ${(npzBomb.byteLength / 1024).toFixed(0)} KiB inflating to 52 MB`, () => upload(npzBomb, "/v1/datasets")],
      ["graph size", "49,999 nodes, 2,000 graph inputs (under the cap)", () => upload(longChain(49_999, 2_000))],
      ["graph size", "50,001 nodes (over the cap)", () => upload(longChain(50_001, 1))],
      ["declared sizes", "a ~150-byte model declaring 2e8 elements", () => upload(sparseBomb())],
      ["unbounded outputs", "broadcast [1,5000]+[5000,1]: 25M elements", () => send(`/v1/models/${broadcastId}/infer`, json(inferBody({ a: { dims: [1, 5000], n: 5000 }, b: { dims: [5000, 1], n: 5000 } })))],
      ["unbounded outputs", "broadcast [1,2048]+[2048,1]: 4M elements", () => send(`/v1/models/${broadcastId}/infer`, json(inferBody({ a: { dims: [1, 2048], n: 2048 }, b: { dims: [2048, 1], n: 2048 } })))],
      ["unbounded outputs", "broadcast [1,1024]+[1024,1]: 1M elements (allowed)", () => send(`/v1/models/${broadcastId}/infer`, json(inferBody({ a: { dims: [1, 1024], n: 1024 }, b: { dims: [1024, 1], n: 1024 } })))],
      ["attributes", "Conv with strides [-1,-1]", () => upload(negativeStrides())],
      ["body limits", `inference body of ${rowsIn32MiB} x 8 numbers (~30 MiB JSON)`, () => send(`/v1/models/${mlpId}/infer`, json(inferBody({ x: { dims: [rowsIn32MiB, 8], n: rowsIn32MiB * 8 } })))],
    ];
    const rows = [];
    for (const [cls, what, prepare] of attacks) {
      const request = prepare();
      const before = sample(pid);
      const started = performance.now();
      const { status, text } = await request();
      const wallMs = performance.now() - started;
      const after = sample(pid);
      const row = {
        class: cls, request: what, status, wallMs: Math.round(wallMs), cpuMs: Math.round(after.cpuMs - before.cpuMs),
        peakGrowthMiB: +((after.hwm - before.hwm) / 2 ** 20).toFixed(1), rssGrowthMiB: +((after.rss - before.rss) / 2 ** 20).toFixed(1),
        answer: status >= 400 ? errorMessage(text) : `${(text.length / 2 ** 20).toFixed(1)} MiB`,
      };
      rows.push(row);
      console.log(`${cls.padEnd(20)} ${String(status).padEnd(4)} wall ${String(row.wallMs).padStart(6)} ms  cpu ${String(row.cpuMs).padStart(6)} ms  peak +${row.peakGrowthMiB} MiB  rss +${row.rssGrowthMiB} MiB  ${what} -> ${row.answer}`);
    }
    const health = (await send("/v1/health", {})()).status;
    console.log(`/v1/health afterwards: ${health}`);
    writeFileSync(here("./results/adversarial.json"), `${JSON.stringify({ rows, health }, null, 2)}\n`);
  } finally {
    await worker.dispose();
  }
}
