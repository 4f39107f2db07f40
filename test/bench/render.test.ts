// docs/benchmarks.md's tables are what bench/render.mjs makes of bench/results/latest.json, so the doc cannot drift
// from the committed results.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BEGIN, DOC, END, RESULTS, renderBenchmarks, renderedDoc, spliceGenerated } from "@bench/render.mjs";

const results = () => JSON.parse(readFileSync(RESULTS, "utf8"));

describe("the benchmark tables of docs/benchmarks.md", () => {
  it("equal what the committed results render to", () => {
    expect(readFileSync(DOC, "utf8")).toBe(renderedDoc());
  });

  it("show each measured figure of the results, so a changed result changes the doc", () => {
    const r = results();
    const int8 = r.models.mlp.find((row: { engine: string; variant: string; batch: number }) => row.engine === "kernels" && row.variant === "int8" && row.batch === 1);
    expect(renderBenchmarks(r)).toContain(`| kernels | int8 | ${int8.ms.toFixed(3)} |`);
    int8.ms *= 2;
    expect(renderBenchmarks(r)).toContain(`| kernels | int8 | ${int8.ms.toFixed(3)} |`);
    expect(spliceGenerated(readFileSync(DOC, "utf8"), renderBenchmarks(r))).not.toBe(readFileSync(DOC, "utf8"));
  });

  it("marks a target met only when every ratio is within it", () => {
    const r = results();
    r.ratios = { mlp: { batch1: { int8Kernels_over_fp32OrtWeb: 0.2 }, batch32: { int8Kernels_over_fp32OrtWeb: 0.5 } } };
    r.models = { mlp: [] };
    expect(renderBenchmarks(r)).toContain("| int8 on the kernels / fp32 <= 0.45 | 0.20 | 0.50 | 1 of 2 |");
    r.ratios.mlp.batch32.int8Kernels_over_fp32OrtWeb = 0.3;
    expect(renderBenchmarks(r)).toContain("| int8 on the kernels / fp32 <= 0.45 | 0.20 | 0.30 | yes |");
  });

  it("refuses a doc without its markers", () => {
    expect(() => spliceGenerated("# Benchmarks\n", "x")).toThrow(/markers/);
    expect(spliceGenerated(`a\n${BEGIN}\nold\n${END}\nb`, "new")).toBe(`a\n${BEGIN}\nnew\n${END}\nb`);
  });
});
