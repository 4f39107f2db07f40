// npm run fuzz -- --n 10000 [--seed 16]: a long fuzz campaign against the Worker running in workerd (wrangler's
// unstable_startWorker, local R2/KV, as bench/run.mjs starts it). Sends --n seeded, structure-aware hostile requests
// (scripts/fuzz/cases.mjs: mutated model and dataset uploads, malformed inference bodies, recipes) and prints the
// answers' counts by status and by class, with the slowest request of each class. Fails (exit 1) on any 5xx answer,
// any dropped connection, or a Worker that no longer answers GET /v1/health afterwards.
import { toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { unstable_startWorker } from "wrangler";
import { fileURLToPath } from "node:url";
import { modelSeeds, mutatedDataset, mutatedInferBody, mutatedModel, mutatedRecipe, seeded } from "./fuzz/cases.mjs";

/** @param {string} name @param {number} fallback */
function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const v = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} takes a whole number (got '${process.argv[at + 1]}')`);
  return v;
}

const N = flag("n", 1000);
const SEED = flag("seed", 16);
const TOKEN = "fuzz-token";
const auth = { Authorization: `Bearer ${TOKEN}` };

const worker = await unstable_startWorker({
  config: fileURLToPath(new URL("../wrangler.toml", import.meta.url)),
  // The tenant bounds (rate limit, quotas) raised out of the way: otherwise most of the campaign would be answered 429
  // or 403 before reaching a parser. The bounds have their own tests (test/worker/routes/usage.worker.test.ts).
  bindings: {
    TOKENS: { type: "plain_text", value: `${TOKEN}:fuzz` },
    ...Object.fromEntries(
      ["RATE_LIMIT_REQUESTS", "MAX_MODELS", "MAX_VARIANTS_PER_MODEL", "MAX_DATASETS", "MAX_EXPERIMENTS", "MAX_STORED_BYTES"].map((k) => [k, { type: "plain_text", value: "1000000000" }]),
    ),
  },
  dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error", persist: false },
});
await worker.ready;

/** @type {Record<string, Record<string, number>>} class -> status -> count */
const counts = {};
/** @type {Record<string, { ms: number, kind: string, status: string }>} */
const slowest = {};
/** @type {string[]} */
const failures = [];

/**
 * Sends one request; a thrown fetch is a dropped connection.
 * @param {string} cls @param {string} kind @param {string} path @param {RequestInit} init
 */
async function send(cls, kind, path, init) {
  const started = performance.now();
  let status;
  try {
    const res = await worker.fetch(`http://fuzz${path}`, init);
    const text = await res.text();
    status = String(res.status);
    if (res.status >= 500) failures.push(`${cls} ${kind}: ${res.status} ${text.slice(0, 300)}`);
  } catch (err) {
    status = "dropped";
    failures.push(`${cls} ${kind}: dropped (${/** @type {Error} */ (err).message})`);
  }
  const ms = performance.now() - started;
  (counts[cls] ??= {})[status] = (counts[cls][status] ?? 0) + 1;
  if (!slowest[cls] || ms > slowest[cls].ms) slowest[cls] = { ms, kind, status };
  return status;
}

try {
  const seeds = modelSeeds();
  const bytesOf = (/** @type {import("onnx-buf").ModelProto} */ m) => toBinary(ModelProtoSchema, m);
  /** @type {{ id: string, input: string, dims: number[] }[]} */
  const targets = [];
  for (const [i, input, dims] of /** @type {[number, string, number[]][]} */ ([[0, "x", [1, 8]], [1, "x", [1, 1, 8, 8]], [4, "a", [1, 64]]])) {
    const res = await worker.fetch("http://fuzz/v1/models", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytesOf(/** @type {any} */ (seeds[i])) });
    if (res.status >= 300) throw new Error(`uploading seed ${i}: ${res.status} ${await res.text()}`);
    targets.push({ id: /** @type {{ id: string }} */ (await res.json()).id, input, dims });
  }
  const r = seeded(SEED);
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    const roll = r();
    if (roll < 0.35) {
      const { kind, bytes } = mutatedModel(r, seeds);
      await send("model upload", kind, "/v1/models", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    } else if (roll < 0.55) {
      const { kind, bytes } = await mutatedDataset(r);
      await send("dataset upload", kind, "/v1/datasets", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    } else if (roll < 0.9) {
      const t = /** @type {{ id: string, input: string, dims: number[] }} */ (targets[Math.floor(r() * targets.length)]);
      const { kind, body, contentType } = mutatedInferBody(r, t.input, t.dims);
      await send("inference", kind, `/v1/models/${t.id}/infer`, { method: "POST", headers: { ...auth, "Content-Type": contentType }, body });
    } else {
      const t = /** @type {{ id: string }} */ (targets[0]);
      const { kind, body } = mutatedRecipe(r);
      await send("recipe", kind, `/v1/models/${t.id}/variants`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body });
    }
    if ((i + 1) % 500 === 0) console.error(`fuzz: ${i + 1}/${N} requests, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const health = await worker.fetch("http://fuzz/v1/health").then((res) => res.status, () => "dropped");
  const byStatus = /** @type {Record<string, number>} */ ({});
  for (const c of Object.values(counts)) for (const [s, n] of Object.entries(c)) byStatus[s] = (byStatus[s] ?? 0) + n;
  console.log(`fuzz campaign: ${N} requests, seed ${SEED}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const [cls, c] of Object.entries(counts)) {
    const s = slowest[cls];
    console.log(`  ${cls.padEnd(15)} ${JSON.stringify(c)}  slowest ${s?.ms.toFixed(0)} ms (${s?.kind} -> ${s?.status})`);
  }
  console.log(`  by status       ${JSON.stringify(byStatus)}`);
  console.log(`  /v1/health afterwards: ${health}`);
  const fivexx = Object.entries(byStatus).filter(([s]) => s.startsWith("5")).reduce((a, [, n]) => a + n, 0);
  console.log(JSON.stringify({ fuzz: { n: N, seed: SEED, byStatus, fivexx, dropped: byStatus.dropped ?? 0, health } }));
  for (const f of failures.slice(0, 20)) console.error(`  FAIL ${f}`);
  if (fivexx > 0 || (byStatus.dropped ?? 0) > 0 || health !== 200) process.exitCode = 1;
} finally {
  await worker.dispose();
}
