// docs/quantization.md's rounding quality table is what bench/render-quality.mjs makes of bench/results/quality.json,
// so the doc cannot drift from the committed results.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { QUALITY_DOC, QUALITY_RESULTS, renderedQualityDoc, renderQuality } from "@bench/render-quality.mjs";

const run = { date: "2026-01-02T00:00:00Z", machine: { cpus: 2, node: "v20" }, seconds: 10 };
const measured = (rounding: string, drop: number) => ({ model: "m", recipe: "2-bit block-32", rounding, fp32: 0.9695, accuracy: 0.9695 - drop / 100, drop, interval: [drop - 0.5, drop + 0.5] as [number, number] });

describe("the rounding quality table of docs/quantization.md", () => {
  it("equals what the committed results render to", () => {
    expect(readFileSync(QUALITY_DOC, "utf8")).toBe(renderedQualityDoc());
  });

  it("has one line per model and recipe of the results, for every reference model", () => {
    const r = JSON.parse(readFileSync(QUALITY_RESULTS, "utf8"));
    const lines = renderQuality(r).split("\n").filter((l: string) => l.startsWith("| ") && !l.startsWith("| model") && !l.startsWith("| ---"));
    const pairs = new Set(r.rows.map((x: { model: string; recipe: string }) => `${x.model} ${x.recipe}`));
    expect(lines).toHaveLength(pairs.size);
    expect(new Set(r.rows.map((x: { model: string }) => x.model))).toEqual(new Set(["mnist-mlp", "lenet-300-100", "mnist-cnn", "fashion-cnn", "fashion-separable-cnn"]));
  });

  it("puts each variant's drop and interval in its column, and a dash where it was not measured", () => {
    const table = renderQuality({ ...run, rows: [measured("nearest", 3.4), measured("gptq+bias", 2.25)] });
    expect(table).toContain("| m (96.95%) | 2-bit block-32 | 3.40 (2.90, 3.90) | - | - | - | - | 2.25 (1.75, 2.75) |");
  });
});
