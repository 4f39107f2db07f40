// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against `wrangler dev`: sign in,
// read the models list, open a model and check its variants table and charts against the API's own records.
import { mkdir } from "node:fs/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type Model, type Variant } from "../../client/slimserve.js";
import { JobPage } from "../../worker/dashboard/pages";
import { buildCnn, buildMlp } from "../support/models";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const ARTIFACTS = "test-artifacts";

let browser: Browser;
let page: Page;
let mlp: Model;
let cnn: Model;
let variant: Variant;

beforeAll(async () => {
  const client = new SlimserveClient({ baseUrl, token: E2E_TOKENS.browser });
  mlp = await client.uploadModel(buildMlp([64, 128, 10], 3), { name: "demo-mlp" });
  cnn = await client.uploadModel(buildCnn(5), { name: "tiny-cnn" });
  const made = await client.compress(mlp.id, { quantize: { bits: 8 } });
  variant = made.variant!;
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
    expect(headers).toEqual(["Variant", "Bits", "Recipe", "Bytes", "Ratio", "Accuracy Δ", "Agreement", "Latency", "Engine"]);
    const cells = await page.$$eval(`table#variants tr[data-variant="${variant.id}"] > *`, (tds) => tds.map((td) => td.textContent));
    expect(cells).toEqual([
      variant.id.slice(0, 12),
      "8",
      "int8 weight-only per-channel",
      String(variant.bytes),
      `${(mlp.bytes / variant.bytes).toFixed(2)}x`,
      "—", // no evaluation yet
      "—",
      "—",
      "onnxruntime-web",
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
      { label: `8-bit ${variant.id.slice(0, 6)}`, x: variant.bytes, y: "", front: "false" }, // not evaluated: hollow, off the front
    ]);
    const bars = await page.$$eval('svg[data-chart="bar"] rect.bar', (rs) => rs.map((r) => ({ value: Number(r.getAttribute("data-value")), width: r.getBoundingClientRect().width })));
    expect(bars.map((b) => b.value)).toEqual([mlp.bytes, variant.bytes]);
    // Rendered, not just present: bar widths keep the bytes' proportions (within a pixel of rounding).
    expect(bars[1]!.width / bars[0]!.width).toBeCloseTo(variant.bytes / mlp.bytes, 1);
    const scatterBox = await page.locator('svg[data-chart="scatter"]').boundingBox();
    expect(scatterBox!.width).toBeGreaterThan(300);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
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

  it("moves a job's progress bar as the job advances, polling until the job ends", async () => {
    // GET /v1/jobs/:id is not on main yet: the page is our JobPage's HTML and its state endpoint is stood in for,
    // so that what is tested is the page's own polling script in a real browser.
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

  it("renders the API reference at /docs from the OpenAPI document", async () => {
    await page.goto(`${baseUrl}/docs`);
    const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    const sections = await page.$$eval("section[data-path]", (ss) => ss.map((s) => s.getAttribute("data-path")));
    expect(new Set(sections)).toEqual(new Set(Object.keys(doc.paths)));
  });
});
