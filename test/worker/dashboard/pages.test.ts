// Pages rendered from sample records in the API's shapes (the browser test renders them from the live API).
import { describe, expect, it } from "vitest";
import { latencyHistograms } from "@worker/dashboard/record-views";
import type { Model, Variant } from "@client/slimserve.js";
import { ExperimentPage, ExperimentsPage, JobPage, ModelPage } from "@worker/dashboard/pages";
import { SAMPLE_EXPERIMENT, SAMPLE_MODEL, SAMPLE_PROMETHEUS, SAMPLE_ROUNDINGS, SAMPLE_VARIANTS } from "./samples";

const html = (element: unknown) => String(element);

describe("JobPage", () => {
  it("shows a running job's progress and stage, and polls its state while it runs", () => {
    const page = html(JobPage({ job: { id: "j1", status: "running", stage: "calibrate", progress: 0.42 } }));
    expect(page).toContain('<progress id="job-progress" max="100" value="42">');
    expect(page).toContain('<dd id="job-stage">calibrate</dd>');
    expect(page).toContain('data-status="running"');
    expect(page).toContain('"/jobs/" + encodeURIComponent(root.dataset.jobId) + "/state"');
  });

  it("shows a failed job's error and links a finished job's model", () => {
    expect(html(JobPage({ job: { id: "j2", status: "failed", error: { code: "invalid_recipe", message: "bits" } } }))).toContain("invalid_recipe");
    expect(html(JobPage({ job: { id: "j3", status: "succeeded", result: { modelId: "m1", variantId: "v1" } } }))).toContain('href="/models/m1"');
  });
});

/** The cells of one table row, tags stripped. */
function rowCells(page: string, variant: string): string[] {
  const row = new RegExp(`<tr data-variant="${variant}">(.*?)</tr>`).exec(page)?.[1] ?? "";
  return [...row.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<"));
}

describe("ModelPage", () => {
  const page = html(ModelPage({ model: SAMPLE_MODEL as unknown as Model, variants: SAMPLE_VARIANTS as unknown as Variant[] }));

  it("fills the variants table from the evaluation reports and the stages' wire size, each row naming the engine that serves it", () => {
    expect(rowCells(page, "original")).toEqual(["FP32 original", "32", "original", "38825", "1.00x", "—", "90.00%", "reference", "reference", "2.00 ms", "onnxruntime-web"]);
    expect(rowCells(page, "a".repeat(24))).toEqual(["a".repeat(12), "8", "int8 weight-only", "11601", "3.35x", "—", "89.50%", "-0.50 pp", "99.00%", "1.00 ms", "kernels"]);
    expect(rowCells(page, "b".repeat(24))).toEqual(["b".repeat(12), "8", "prune 50% + int8 weight-only", "11601", "3.35x", "7700", "80.00%", "-10.00 pp", "85.00%", "not measured", "kernels"]);
    expect(rowCells(page, "c".repeat(24))).toEqual(["c".repeat(12), "8", "int8 static", "12099", "3.21x", "—", "—", "—", "—", "—", "onnxruntime-web"]);
    expect(page).toContain(`dataset ${"d".repeat(24)} (200 samples)`);
  });

  it("shows each variant's parameters by state: compressed, left float with the reason, with their shares and a stacked bar", () => {
    const table = new RegExp(`<table id="parameters-${"a".repeat(24)}">(.*?)</table>`).exec(page)?.[1] ?? "";
    const rows = [...table.matchAll(/<tr data-state="(\w+)">(.*?)<\/tr>/g)].map((m) => [...m[2]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]));
    expect(rows).toEqual([
      ["compressed", "int8", "8,192", "85.2%", "fc0.weight"],
      ["left float", "excluded by the recipe", "1,280", "13.3%", "head.weight"],
      ["left float", "not a weight any recipe compresses (biases, norms, other tensors)", "138", "1.4%", "—"],
    ]);
    expect(page).toContain('<span class="compressed" style="width:85.24%"');
    const staticRows = new RegExp(`<table id="parameters-${"c".repeat(24)}">(.*?)</table>`).exec(page)?.[1] ?? "";
    expect(staticRows).toContain("<td>no calibrated range for this activation</td>");
  });

  it("puts evaluated variants on the scatter at their accuracy change, with the Pareto front through FP32 and int8", () => {
    const points = [...page.matchAll(/<circle class="point" data-label="([^"]*)" data-x="([^"]*)" data-y="([^"]*)" data-front="([^"]*)"/g)].map((m) => m.slice(1));
    expect(points).toEqual([
      ["FP32", "38825", "0", "true"],
      ["int8", "11601", String(100 * (0.895 - 0.9)), "true"],
      ["p50% int8", "11601", String(100 * (0.8 - 0.9)), "false"],
      ["int8 static", "12099", "", "false"],
    ]);
    expect(page).toContain('class="pareto" data-labels="int8|FP32"');
  });
});

describe("ModelPage's rounding comparison", () => {
  it("shows a recipe's nearest and compensated variants side by side: accuracy change and size, a dash where none was made", () => {
    const page = html(ModelPage({ model: SAMPLE_MODEL as unknown as Model, variants: [...SAMPLE_VARIANTS, ...SAMPLE_ROUNDINGS] as unknown as Variant[] }));
    const table = /<table id="rounding"[^>]*>(.*?)<\/table>/.exec(page)?.[1] ?? "";
    const cells = [...table.matchAll(/<tbody>(.*?)<\/tbody>/g)].flatMap((b) => [...b[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((c) => c[1]));
    expect(cells).toEqual(["int4 weight-only", "-3.00 pp (6.1 KiB)", "-1.50 pp (6.1 KiB)", "—", "-1.00 pp (6.1 KiB)"]);
  });

  it("adds AdaRound's columns once a variant was made with it", () => {
    const [, gptq] = SAMPLE_ROUNDINGS as unknown as [Record<string, any>, Record<string, any>];
    const adaround = { ...gptq, id: "v-adaround", recipe: { quantize: { ...gptq.recipe.quantize, rounding: { method: "adaround", iterations: 500, regularization: 10 } } } };
    const page = html(ModelPage({ model: SAMPLE_MODEL as unknown as Model, variants: [...SAMPLE_VARIANTS, ...SAMPLE_ROUNDINGS, adaround] as unknown as Variant[] }));
    const table = /<table id="rounding"[^>]*>(.*?)<\/table>/.exec(page)?.[1] ?? "";
    const headings = [...table.matchAll(/<th scope="col"[^>]*>(.*?)<\/th>/g)].map((c) => c[1]);
    expect(headings).toEqual(["Recipe", "Nearest", "GPTQ", "AdaRound", "Nearest + bias correction", "GPTQ + bias correction", "AdaRound + bias correction"]);
  });

  it("adds the columns of GPTQ on quantized inputs once a variant was made that way, apart from GPTQ on float inputs", () => {
    const [, gptq] = SAMPLE_ROUNDINGS as unknown as [Record<string, any>, Record<string, any>];
    const rounding = { ...gptq.recipe.quantize.rounding, inputs: "quantized" };
    const quantized = { ...gptq, id: "v-quantized", recipe: { quantize: { ...gptq.recipe.quantize, rounding } } };
    const page = html(ModelPage({ model: SAMPLE_MODEL as unknown as Model, variants: [...SAMPLE_VARIANTS, ...SAMPLE_ROUNDINGS, quantized] as unknown as Variant[] }));
    const table = /<table id="rounding"[^>]*>(.*?)<\/table>/.exec(page)?.[1] ?? "";
    const headings = [...table.matchAll(/<th scope="col"[^>]*>(.*?)<\/th>/g)].map((c) => c[1]);
    expect(headings).toEqual(["Recipe", "Nearest", "GPTQ", "GPTQ, quantized inputs", "Nearest + bias correction", "GPTQ + bias correction", "GPTQ, quantized inputs + bias correction"]);
    const cells = [...table.matchAll(/<td[^>]*data-rounding="([^"]+)"[^>]*>(.*?)<\/td>/g)].map((c) => [c[1], c[2]]);
    expect(cells.filter(([r]) => r!.startsWith("gptq"))).toEqual([
      ["gptq", "-1.50 pp (6.1 KiB)"],
      ["gptq-quantized", "-1.50 pp (6.1 KiB)"],
      ["gptq+bias", "-1.00 pp (6.1 KiB)"],
      ["gptq-quantized+bias", "—"],
    ]);
  });

  it("is absent when no recipe was made more than one way", () => {
    expect(html(ModelPage({ model: SAMPLE_MODEL as unknown as Model, variants: SAMPLE_VARIANTS as unknown as Variant[] }))).not.toContain('id="rounding"');
  });
});

describe("ExperimentPage", () => {
  it("draws traffic shares against their targets, each arm's latency histogram and the candidates' agreement", () => {
    const page = html(ExperimentPage({ experiment: SAMPLE_EXPERIMENT, histograms: latencyHistograms(SAMPLE_PROMETHEUS, "mlp-int8") }));
    expect(page).toContain(">88.0% (target 90%)</text>");
    expect(page).toContain(">12.0% (target 10%)</text>");
    expect(page.match(/data-chart="histogram"/g)).toHaveLength(1);
    expect(page).toContain('data-count="500"');
    expect(page).toContain(">98.50%</text>");
    expect(page).toContain('<table id="history">');
  });

  it("lists experiments, or says the API is missing", () => {
    expect(html(ExperimentsPage({ experiments: [SAMPLE_EXPERIMENT] }))).toContain('href="/experiments/mlp-int8"');
    expect(html(ExperimentsPage({ experiments: null }))).toContain("no experiments API yet");
  });
});
