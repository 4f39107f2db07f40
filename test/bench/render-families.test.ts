// docs/benchmarks.md's real-graph families tables are what bench/render-families.mjs makes of
// bench/results/families.json, so the doc cannot drift from the committed results; the goal column follows the
// engine issue's bars.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FAMILIES_DOC, renderedFamiliesDoc, renderFamilies } from "@bench/render-families.mjs";

type Row = { model: string; variant: string; engine: string; batch: number; ms?: number; ratio?: number; int4Ratio?: number; uncovered?: string };

const run = (rows: Row[]) => ({ when: "2026-01-02", machine: "2 vCPU", node: "v20", seconds: 1, rows, client: [] });
const fp32Web = (batch: number): Row => ({ model: "m", variant: "fp32", engine: "onnxruntime-web", batch, ms: 100, ratio: 1 });

describe("the real-graph families tables of docs/benchmarks.md", () => {
  it("equal what the committed results render to", () => {
    expect(readFileSync(FAMILIES_DOC, "utf8")).toBe(renderedFamiliesDoc());
  });

  it("say an int8 variant meets its goal only when it is at most 0.5x FP32 on onnxruntime-web at both batches", () => {
    const int8 = (r1: number, r8: number): Row[] => [1, 8].map((batch, i) => ({ model: "m", variant: "int8", engine: "kernels", batch, ms: 100 * [r1, r8][i]!, ratio: [r1, r8][i] }));
    const line = (rows: Row[]) => renderFamilies(run([fp32Web(1), fp32Web(8), ...rows])).split("\n").find((l: string) => l.startsWith("| m | int8 |"))!;
    expect(line(int8(0.4, 0.5))).toContain("| yes |");
    expect(line(int8(0.4, 0.51))).toContain("| no |");
  });

  it("hold 1-bit to int4 timed side by side where the run did so (at most 1.05x at both batches), not to the two rows' ratios to FP32", () => {
    const variant = (name: string, ratios: number[], int4Ratio?: number[]): Row[] =>
      [1, 8].map((batch, i) => ({ model: "m", variant: name, engine: "kernels", batch, ms: 100 * ratios[i]!, ratio: ratios[i], ...(int4Ratio ? { int4Ratio: int4Ratio[i] } : {}) }));
    const line = (rows: Row[]) => renderFamilies(run([fp32Web(1), fp32Web(8), ...rows])).split("\n").find((l: string) => l.startsWith("| m | 1-bit"))!;
    // Ratios to FP32 from different spells say 1-bit is 10% slower; side by side it is not.
    expect(line([...variant("int4", [0.3, 0.3]), ...variant("1-bit", [0.33, 0.33], [1.01, 0.98])])).toMatch(/\| 1-bit \(1\.01x \/ 0\.98x of int4\) \|.*\| yes \|/);
    expect(line([...variant("int4", [0.3, 0.3]), ...variant("1-bit", [0.3, 0.3], [1.0, 1.06])])).toContain("| no |");
    // Without the side-by-side figure, the two ratios to FP32.
    expect(line([...variant("int4", [0.3, 0.3]), ...variant("1-bit", [0.33, 0.3])])).toContain("| no |");
    expect(line([...variant("int4", [0.3, 0.3]), ...variant("1-bit", [0.31, 0.3])])).toContain("| yes |");
  });

  it("names why the kernel engine did not serve a variant", () => {
    const rows: Row[] = [fp32Web(1), fp32Web(8), { model: "m", variant: "int4", engine: "kernels", batch: 1, uncovered: "no kernel-engine op for Foo" }];
    expect(renderFamilies(run(rows))).toContain("no kernel-engine op for Foo");
  });
});
