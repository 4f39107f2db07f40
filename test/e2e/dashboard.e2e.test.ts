// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against `wrangler dev`: sign in,
// read the models list, follow a real job on its page to 100%, open the model and check its variants table and
// charts against the API's own records (whose accuracy numbers are checked against onnxruntime-node).
import { mkdir } from "node:fs/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type Dataset, type Job, type Model, type Variant } from "@client/slimserve.js";
import { JobPage } from "@worker/dashboard/pages";
import { encodeNpy } from "@formats/npy.js";
import { encodeNpz } from "@formats/npz.js";
import { buildCnn, buildMlp } from "@test/support/models";
import { labelledSet, scoreOn, type Labelled } from "./labelled";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const ARTIFACTS = "test-artifacts";

let browser: Browser;
let page: Page;
let mlp: Model;
let cnn: Model;
let variant: Variant;
let client: SlimserveClient;
let dataset: Dataset;
let set: Labelled;
let fp32Top: number[];
const SIZES = [64, 128, 10];
const mlpBytes = buildMlp(SIZES, 3);
/** onnxruntime-web and -node may break a near-tie between two logits differently: one sample either way. */
const ONE_SAMPLE = 1 / 200 + 1e-9;

/** Polls a job through the API until it ends. */
async function finished(job: Job): Promise<Job> {
  const done = await client.waitForJob(job.id, { intervalMs: 200 });
  expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
  return done;
}

beforeAll(async () => {
  client = new SlimserveClient({ baseUrl, token: E2E_TOKENS.browser });
  mlp = await client.uploadModel(mlpBytes, { name: "demo-mlp" });
  cnn = await client.uploadModel(buildCnn(5), { name: "tiny-cnn" });
  const made = await client.compress(mlp.id, { quantize: { bits: 8 } });
  variant = made.variant!;
  set = await labelledSet(mlpBytes, { samples: 200, features: SIZES[0]!, classes: SIZES[2]!, seed: 9 });
  fp32Top = (await scoreOn(mlpBytes, set, SIZES[2]!)).top;
  const npz = encodeNpz({
    input: encodeNpy({ dtype: "float32", shape: [set.samples, set.features], data: set.x }),
    labels: encodeNpy({ dtype: "int64", shape: [set.samples], data: set.labels }),
  });
  dataset = await client.uploadDataset(npz, { name: "demo-set" });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"],
  });
  page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
});

describe("dashboard in Chromium", () => {
  it("asks for the token, then keeps it in an HttpOnly session cookie that scripts cannot read", async () => {
    await page.goto(`${baseUrl}/`);
    await expect(page.getByRole("heading", { name: "Sign in" }).isVisible()).resolves.toBe(true);
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("not accepted");

    await page.getByLabel("API token").fill(E2E_TOKENS.browser);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForSelector("table#models");
    const cookies = await page.context().cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: "slimserve_token", httpOnly: true, sameSite: "Strict", expires: -1 })]);
    await expect(page.evaluate("document.cookie")).resolves.toBe("");
  });

  it("lists the tenant's models with their sizes and parameter counts", async () => {
    const rows = await page.$$eval("table#models tbody tr", (trs) => trs.map((tr) => ({ id: tr.getAttribute("data-model"), cells: [...tr.children].map((td) => td.textContent) })));
    expect(rows.map((r) => r.id).sort()).toEqual([mlp.id, cnn.id].sort());
    const mlpRow = rows.find((r) => r.id === mlp.id)!;
    expect(mlpRow.cells[0]).toBe("demo-mlp");
    expect(mlpRow.cells[3]).toBe(mlp.parameters.toLocaleString("en-US"));
  });

  it("shows a model's variants table with the variant's bits, bytes, ratio and engine", async () => {
    await page.getByRole("link", { name: "demo-mlp" }).click();
    await page.waitForSelector("table#variants");
    const headers = await page.$$eval("table#variants thead th", (ths) => ths.map((th) => th.textContent));
    expect(headers).toEqual(["Variant", "Bits", "Recipe", "Bytes", "Ratio", "Wire (br)", "Accuracy", "Accuracy Δ", "Agreement", "Latency", "Engine"]);
    const cells = await page.$$eval(`table#variants tr[data-variant="${variant.id}"] > *`, (tds) => tds.map((td) => td.textContent));
    expect(cells).toEqual([
      variant.id.slice(0, 12),
      "8",
      "int8 weight-only",
      String(variant.bytes),
      `${(mlp.bytes / variant.bytes).toFixed(2)}x`,
      String((variant.stages as { encoded: { br: number } }).encoded.br),
      "—", // no evaluation yet
      "—",
      "—",
      "—",
      variant.engine as string,
    ]);
    const original = await page.$$eval('table#variants tr[data-variant="original"] > *', (tds) => tds.map((td) => td.textContent));
    expect(original.slice(0, 5)).toEqual(["FP32 original", "32", "original", String(mlp.bytes), "1.00x"]);
  });

  it("draws the size-versus-accuracy scatter and the size bars from the records' numbers", async () => {
    const points = await page.$$eval('svg[data-chart="scatter"] circle.point', (cs) =>
      cs.map((c) => ({ label: c.getAttribute("data-label"), x: Number(c.getAttribute("data-x")), y: c.getAttribute("data-y"), front: c.getAttribute("data-front") })),
    );
    expect(points).toEqual([
      { label: "FP32", x: mlp.bytes, y: "0", front: "true" },
      { label: "int8", x: variant.bytes, y: "", front: "false" }, // not evaluated: hollow, off the front
    ]);
    const bars = await page.$$eval('svg[data-chart="bar"] rect.bar', (rs) => rs.map((r) => ({ value: Number(r.getAttribute("data-value")), width: r.getBoundingClientRect().width })));
    expect(bars.map((b) => b.value)).toEqual([mlp.bytes, variant.bytes]);
    // Rendered, not just present: bar widths keep the bytes' proportions (within a pixel of rounding).
    expect(bars[1]!.width / bars[0]!.width).toBeCloseTo(variant.bytes / mlp.bytes, 1);
    const scatterBox = await page.locator('svg[data-chart="scatter"]').boundingBox();
    expect(scatterBox!.width).toBeGreaterThan(300);
  });

  it("follows a real job on its page until it reaches 100%, then links to the model", async () => {
    const answer = await client.compress(mlp.id, { prune: { sparsity: 0.3 }, quantize: { bits: 8 }, eval: { dataset: dataset.id } });
    const jobId = answer.job!.id;
    expect(jobId).toMatch(/^[0-9a-f]{24}$/);
    const polls: string[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith(`/jobs/${jobId}/state`)) polls.push(r.url());
    });
    const t0 = Date.now();
    await page.goto(`${baseUrl}/jobs/${jobId}`);
    const rendered = await page.locator("#job").getAttribute("data-status");
    const seen: string[] = [];
    for (;;) {
      const state = (await page.evaluate("[document.getElementById('job').dataset.status, document.getElementById('job-progress').value, document.getElementById('job-stage').textContent].join(' ')")) as string;
      if (seen.at(-1) !== state) seen.push(state);
      if (state.startsWith("succeeded") || state.startsWith("failed") || Date.now() - t0 > 30_000) break;
      await page.waitForTimeout(50);
    }
    await expect(page.locator("#job-kind").textContent()).resolves.toBe("variant");
    expect(seen.at(-1)).toBe("succeeded 100 done");
    await expect(page.locator("#job-percent").textContent()).resolves.toBe("100%");
    // Rendered before the job ended, the page got there by polling; rendered after, it needed no poll.
    if (rendered !== "succeeded") expect(polls.length).toBeGreaterThanOrEqual(1);
    else expect(polls).toEqual([]);
    const job = await client.getJob(jobId);
    expect(job).toMatchObject({ status: "succeeded", progress: 1 });
    await page.getByRole("link", { name: "Open the model" }).click();
    await page.waitForSelector("table#variants");
    expect(page.url()).toBe(`${baseUrl}/models/${mlp.id}`);
  });

  it("moves a job's progress bar as the job advances, polling until the job ends", async () => {
    // Under wrangler dev one workerd thread runs the Worker, so a running job holds up every other request (the page
    // and its polls included) until it ends: the real job above is seen queued or done, never half-way. Here the
    // page's own polling script is driven through a job's stages by a stood-in state endpoint.
    const states = [
      { id: "demo-job", status: "running", stage: "calibrate", progress: 0.25 },
      { id: "demo-job", status: "running", stage: "quantize", progress: 0.75 },
      { id: "demo-job", status: "succeeded", stage: "done", progress: 1, result: { modelId: mlp.id } },
    ];
    let polls = 0;
    const seen: string[] = [];
    await page.route(`${baseUrl}/jobs/demo-job`, (route) =>
      route.fulfill({ contentType: "text/html", body: `<!doctype html>${String(JobPage({ job: { id: "demo-job", status: "queued", progress: 0 } }))}` }),
    );
    await page.route(`${baseUrl}/jobs/demo-job/state`, (route) => route.fulfill({ json: states[Math.min(polls++, states.length - 1)] }));
    await page.goto(`${baseUrl}/jobs/demo-job`);
    expect(await page.evaluate("document.getElementById('job-progress').value")).toBe(0);
    for (const stage of ["calibrate", "quantize", "done"]) {
      await page.waitForFunction(`document.getElementById('job-stage').textContent === ${JSON.stringify(stage)}`, null, { timeout: 5000 });
      seen.push(`${stage}:${await page.evaluate("document.getElementById('job-progress').value")}`);
    }
    expect(seen).toEqual(["calibrate:25", "quantize:75", "done:100"]);
    await page.waitForTimeout(1500);
    expect(polls).toBe(3); // stops once the job has ended
    await expect(page.locator("#job-status").textContent()).resolves.toBe("succeeded");
    await page.unrouteAll();
  });

  it("shows evaluated variants in the table and on the scatter with the API's accuracy numbers", async () => {
    // Evaluate the plain int8 variant, and make a static int8 one with evaluation, through the API's jobs.
    const evaluated = await client.evaluateVariant(mlp.id, variant.id, dataset.id);
    if ("job" in evaluated) await finished(evaluated.job);
    const staticInt8 = await client.compress(mlp.id, { quantize: { bits: 8, scheme: "static", calibration: { dataset: dataset.id } }, eval: { dataset: dataset.id } });
    if (staticInt8.job) await finished(staticInt8.job);
    await page.goto(`${baseUrl}/models/${mlp.id}`);
    await page.waitForSelector("table#variants");

    const model = await client.getModel(mlp.id);
    const variants = await Promise.all(model.variants.map((v) => client.getVariant(mlp.id, v.id)));
    expect(variants).toHaveLength(3);
    const fp32Accuracy = variants[0]!.eval!.accuracy!.fp32;
    const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
    const pp = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)} pp`;
    for (const v of variants) {
      const e = v.eval!;
      expect(e.dataset).toBe(dataset.id);
      // The API's numbers against onnxruntime-node on the variant's bytes.
      const ref = await scoreOn(await client.downloadVariant(mlp.id, v.id), set, SIZES[2]!, fp32Top);
      expect(Math.abs(e.accuracy!.variant - ref.accuracy)).toBeLessThanOrEqual(ONE_SAMPLE);
      expect(Math.abs(e.agreement - ref.agreement!)).toBeLessThanOrEqual(ONE_SAMPLE);
      const cells = await page.$$eval(`table#variants tr[data-variant="${v.id}"] > *`, (tds) => tds.map((td) => td.textContent));
      expect(cells[5]).toBe(v.stages ? String(v.stages.encoded.br) : "—");
      expect(cells.slice(6, 9)).toEqual([pct(e.accuracy!.variant), pp(e.accuracy!.variant - e.accuracy!.fp32), pct(e.agreement)]);
      expect(cells[10]).toBe(e.engine);
    }
    const original = await page.$$eval('table#variants tr[data-variant="original"] > *', (tds) => tds.map((td) => td.textContent));
    expect(original[6]).toBe(pct(fp32Accuracy));

    const points = await page.$$eval('svg[data-chart="scatter"] circle.point', (cs) =>
      cs.map((c) => ({ x: Number(c.getAttribute("data-x")), y: Number(c.getAttribute("data-y")), front: c.getAttribute("data-front") === "true" })),
    );
    const expected = [{ x: model.bytes, y: 0 }, ...variants.map((v) => ({ x: v.bytes, y: 100 * (v.eval!.accuracy!.variant - v.eval!.accuracy!.fp32) }))];
    // On the front: no other point at least as small and as accurate, and better on one.
    const dominated = (p: { x: number; y: number }) => expected.some((q) => q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
    expect(points.map((p) => p.x).sort()).toEqual(expected.map((p) => p.x).sort());
    for (const p of expected) {
      const drawn = points.find((q) => q.x === p.x && Math.abs(q.y - p.y) < 1e-9);
      expect(drawn, `point ${p.x}, ${p.y}`).toBeDefined();
      expect(drawn!.front).toBe(!dominated(p));
    }
    await mkdir(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it("fits a phone's width: wide tables scroll inside their card, the page does not", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it("answers an unknown model with a 404 page, and signing out forgets the token", async () => {
    const res = await page.goto(`${baseUrl}/models/${"0".repeat(24)}`);
    expect(res!.status()).toBe(404);
    await expect(page.getByRole("alert").textContent()).resolves.toContain("not found");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForSelector("input#token");
    expect(await page.context().cookies()).toEqual([]);
  });

  it("renders the API reference at /docs from the OpenAPI document", async () => {
    await page.goto(`${baseUrl}/docs`);
    const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    const sections = await page.$$eval("section[data-path]", (ss) => ss.map((s) => s.getAttribute("data-path")));
    expect(new Set(sections)).toEqual(new Set(Object.keys(doc.paths)));
  });
});
