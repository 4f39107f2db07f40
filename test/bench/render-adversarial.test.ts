// docs/benchmarks.md's adversarial section is what bench/render-adversarial.mjs makes of bench/results/adversarial.json,
// so the doc cannot drift from the committed results; a class is within budget only when its worst request took at
// most 1 s of CPU and 64 MiB.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ADVERSARIAL_DOC, renderAdversarial, renderedAdversarialDoc } from "@bench/render-adversarial.mjs";

type Row = { class: string; request: string; status: number; wallMs: number; cpuMs: number; peakGrowthMiB: number; answer: string };

const row = (cls: string, cpuMs: number, peakGrowthMiB: number): Row => ({ class: cls, request: "r", status: 413, wallMs: 1, cpuMs, peakGrowthMiB, answer: "a" });
const run = (rows: Row[]) => ({
  when: "2026-01-02", machine: "2 vCPU", node: "v20", seconds: 1, controls: [], rows, health: 200,
  method: { idleMsPerSecond: 0, calibrationCpuMsByProcess: [{ cpuMs: 500 }, { cpuMs: 20 }] },
});
const classLine = (text: string, cls: string) => text.split("\n").find((l) => l.startsWith(`| ${cls} |`))!;

describe("the adversarial section of docs/benchmarks.md", () => {
  it("equals what the committed results render to", () => {
    expect(readFileSync(ADVERSARIAL_DOC, "utf8")).toBe(renderedAdversarialDoc());
  });

  it("gives each class its worst request's CPU and memory, within budget only at most 1000 ms and 64 MiB", () => {
    const text = renderAdversarial(run([row("a", 1000, 10), row("a", 20, 64), row("b", 1001, 1), row("c", 5, 64.1)]));
    expect(classLine(text, "a")).toBe("| a | 1000 | 64.0 | yes |");
    expect(classLine(text, "b")).toBe("| b | 1001 | 1.0 | no |");
    expect(classLine(text, "c")).toBe("| c | 5 | 64.1 | no |");
  });
});
