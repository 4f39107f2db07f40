// docs/quantization.md's model zoo table is what bench/render-zoo.mjs makes of bench/results/zoo.json, so the doc
// cannot drift from the committed results.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderedZooDoc, renderZoo, spliceZoo, ZOO_BEGIN, ZOO_DOC, ZOO_END, ZOO_RESULTS } from "@bench/render-zoo.mjs";

const results = () => JSON.parse(readFileSync(ZOO_RESULTS, "utf8"));

const measured = {
  model: "m",
  recipe: "int4",
  fp32Bytes: 40e6,
  variantBytes: 8e6,
  ratio: 5,
  cosineNode: 0.995,
  cosineWeb: 0.995,
  bar: { minRatio: 6, minCosine: 0.99 },
  meetsBar: false,
  floatBytesLeft: 786_432,
  skipped: [{ name: "positions", node: "/Slice", reason: "read by Slice node '/Slice': no weight slot of an op compression covers" }],
};

describe("the model zoo table of docs/quantization.md", () => {
  it("equals what the committed results render to", () => {
    expect(readFileSync(ZOO_DOC, "utf8")).toBe(renderedZooDoc());
  });

  it("has one row per model and recipe of the results", () => {
    const r = results();
    const lines = renderZoo(r).split("\n").filter((l: string) => l.startsWith("| ") && !l.startsWith("| model") && !l.startsWith("| ---"));
    expect(lines).toHaveLength(r.rows.length);
  });

  it("shows each row's figures, which part of the bar it misses and the weights left with their reason", () => {
    const table = renderZoo({ date: "2026-01-02T00:00:00Z", machine: { cpus: 2, node: "v20" }, seconds: 10, rows: [measured] });
    expect(table).toContain("| m | int4 | 40.00 | 8.00 | 5.00 | 0.995000 | 0.995000 | no (ratio < 6) | `positions` (read by Slice node '/Slice'); 786 KB float in all |");
    const lowCosine = { ...measured, ratio: 7, cosineWeb: 0.9 };
    expect(renderZoo({ date: "2026-01-02T00:00:00Z", machine: { cpus: 2, node: "v20" }, seconds: 10, rows: [lowCosine] })).toContain("| no (cosine < 0.99) |");
  });

  it("shows a refused recipe with its reason and no figures", () => {
    const refused = { model: "c", recipe: "int4", fp32Bytes: 12e6, bar: { minRatio: 6, minCosine: 0.99 }, meetsBar: false, refused: "opset 11 model" };
    expect(renderZoo({ date: "2026-01-02T00:00:00Z", machine: { cpus: 2, node: "v20" }, seconds: 10, rows: [refused] })).toContain(
      "| c | int4 | 12.00 | - | - | - | - | no (refused) | opset 11 model |",
    );
  });

  it("refuses a doc without its markers", () => {
    expect(() => spliceZoo("# Quantization\n", "x")).toThrow(/markers/);
    expect(spliceZoo(`a\n${ZOO_BEGIN}\nold\n${ZOO_END}\nb`, "new")).toBe(`a\n${ZOO_BEGIN}\nnew\n${ZOO_END}\nb`);
  });
});
