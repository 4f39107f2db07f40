#!/usr/bin/env node
// Load test for A/B experiments (loopback only, bounded in time): starts the Worker with `wrangler dev` on
// 127.0.0.1 and a free port (state in a temp dir), uploads a seeded MLP, makes its int8 variant, creates a
// split experiment (FP32 control vs int8, sticky by user, agreement sampled), then fires requests from a few
// concurrent loops until MAX_REQUESTS or MAX_SECONDS. Prints per-arm latency (as the client saw it and as the
// Worker recorded it) and agreement as a table, then one JSON line.
// Usage: npm run load [-- --requests 2000 --seconds 30 --concurrency 4 --sample 0.25]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runnerImport } from "vite";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MAX_REQUESTS = arg("requests", 2000);
const MAX_SECONDS = arg("seconds", 30);
const CONCURRENCY = arg("concurrency", 4);
const AGREEMENT_SAMPLE = arg("sample", 0.25);
const USERS = 200;
const TOKEN = "dev-token"; // .dev.vars: dev-token -> tenant "dev"
const STARTUP_TIMEOUT_MS = 60_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : null);
const fmt = (x, digits = 2) => (x === null || x === undefined ? "-" : Number(x).toFixed(digits));

async function main() {
  const { module: models } = await runnerImport("./test/support/models.ts");
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "slimserve-load-"));
  const base = `http://127.0.0.1:${port}`;
  const wrangler = spawn(
    "node_modules/.bin/wrangler",
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", "warn", "--show-interactive-dev-session=false", "--inspector-port", String(await freePort())],
    {
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
      // Loopback only: no fetch of the Request.cf placeholder, no telemetry.
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    },
  );
  const stop = () => {
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {}
    rmSync(state, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    stop();
    process.exit(130);
  });
  try {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (wrangler.exitCode !== null) throw new Error(`wrangler dev exited with ${wrangler.exitCode}`);
      try {
        if ((await fetch(`${base}/v1/health`)).ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error("wrangler dev did not start in time");
      await new Promise((r) => setTimeout(r, 250));
    }
    const call = async (method, path, body, headers = {}) => {
      const isBytes = body instanceof Uint8Array;
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": isBytes ? "application/octet-stream" : "application/json", ...headers },
        body: body === undefined ? undefined : isBytes ? body : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return { res, json: text ? JSON.parse(text) : null };
    };

    const sizes = [784, 256, 128, 10];
    const model = (await call("POST", "/v1/models?name=load-mlp", models.buildMlp(sizes, 21))).json;
    const variant = (await call("POST", `/v1/models/${model.id}/variants`, { quantize: { bits: 8 } })).json;
    const name = `load-${Date.now().toString(36)}`;
    await call("POST", "/v1/experiments", {
      name,
      model: model.id,
      mode: "split",
      arms: [{ variant: "original", weight: 50 }, { variant: variant.id, weight: 50 }],
      control: "original",
      sticky: { header: "x-user-id" },
      agreementSample: AGREEMENT_SAMPLE,
    });

    const inputs = Array.from({ length: 64 }, (_, i) => ({ inputs: { input: { type: "float32", dims: [1, sizes[0]], data: models.randomInput(sizes[0], 1000 + i) } } }));
    const client = new Map(); // arm -> client-side latencies (ms)
    let sent = 0;
    let failed = 0;
    const started = performance.now();
    const stopAt = started + MAX_SECONDS * 1000;
    const loop = async (worker) => {
      while (sent < MAX_REQUESTS && performance.now() < stopAt) {
        const i = sent++;
        const t0 = performance.now();
        try {
          const { json } = await call("POST", `/v1/experiments/${name}/infer`, inputs[i % inputs.length], { "x-user-id": `user-${(i * 7 + worker) % USERS}` });
          const ms = performance.now() - t0;
          if (!client.has(json.arm)) client.set(json.arm, []);
          client.get(json.arm).push(ms);
        } catch (err) {
          failed++;
          if (failed <= 3) console.error(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => loop(w)));
    const seconds = (performance.now() - started) / 1000;

    // Metrics land after the answers (waitUntil, batched): wait until the experiment has counted them all.
    let experiment;
    const settle = Date.now() + 10_000;
    do {
      experiment = (await call("GET", `/v1/experiments/${name}`)).json;
      if (experiment.results.reduce((s, r) => s + r.served, 0) >= sent - failed) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < settle);

    const rows = experiment.results.map((r) => {
      const lat = [...(client.get(r.variant) ?? [])].sort((a, b) => a - b);
      return {
        arm: r.variant === "original" ? "original (fp32)" : `${r.variant} (int8)`,
        role: r.role,
        served: r.served,
        runs: r.requests,
        errors: r.errors,
        clientP50: quantile(lat, 0.5),
        clientP95: quantile(lat, 0.95),
        clientP99: quantile(lat, 0.99),
        workerP50: r.latency.p50Ms,
        workerP95: r.latency.p95Ms,
        workerP99: r.latency.p99Ms,
        agreementRows: r.agreement?.rows ?? null,
        top1: r.agreement?.top1Rate ?? null,
        top1Ci: r.agreement?.top1Ci ?? null,
        cosine: r.agreement?.meanCosine ?? null,
        maxAbsDiff: r.agreement?.maxAbsDiff ?? null,
        verdict: r.verdict,
      };
    });
    const header = ["arm", "role", "served", "runs", "err", "client p50/p95/p99 ms", "worker p50/p95/p99 ms", "agree rows", "top-1", "cosine", "max|diff|"];
    const table = rows.map((r) => [
      r.arm,
      r.role,
      String(r.served),
      String(r.runs),
      String(r.errors),
      `${fmt(r.clientP50)}/${fmt(r.clientP95)}/${fmt(r.clientP99)}`,
      `${fmt(r.workerP50)}/${fmt(r.workerP95)}/${fmt(r.workerP99)}`,
      r.agreementRows === null ? "-" : String(r.agreementRows),
      r.top1 === null ? "-" : fmt(r.top1, 4),
      r.cosine === null ? "-" : fmt(r.cosine, 6),
      r.maxAbsDiff === null ? "-" : fmt(r.maxAbsDiff, 4),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
    console.log(`\nexperiment ${name}: ${sent} requests (${failed} failed) in ${seconds.toFixed(1)} s from ${CONCURRENCY} loops = ${(sent / seconds).toFixed(0)} req/s; MLP ${sizes.join("-")}, batch 1, agreement sample ${AGREEMENT_SAMPLE}`);
    console.log(line(header));
    for (const row of table) console.log(line(row));
    console.log(JSON.stringify({ experiment: name, requests: sent, failed, seconds: Number(seconds.toFixed(2)), concurrency: CONCURRENCY, arms: rows }));
    if (failed > 0) process.exitCode = 1;
  } finally {
    stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
