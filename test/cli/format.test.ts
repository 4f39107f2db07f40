// The CLI's terminal output: progress line, tables, evaluation lines.
import { describe, expect, it } from "vitest";
import { evalCells, evalLine, formatTable, progressLine, warningLines } from "@cli/format.js";

describe("progressLine", () => {
  it("fills the bar in proportion to progress and names the stage", () => {
    expect(progressLine({ status: "running", stage: "calibrate", progress: 0.5 }, 10)).toBe("[#####-----]  50% calibrate");
    expect(progressLine({ status: "running", progress: 0 }, 4)).toBe("[----]   0% running");
  });

  it("shows a finished job without progress as full", () => {
    expect(progressLine({ status: "succeeded" }, 4)).toBe("[####] 100% succeeded");
  });

  it("clamps progress outside [0, 1]", () => {
    expect(progressLine({ status: "running", progress: 1.7 }, 2)).toBe("[##] 100% running");
  });
});

describe("formatTable", () => {
  it("pads columns to the widest cell and right-aligns numeric ones, headers included", () => {
    expect(formatTable(["ID", "SIZE"], [["a", "1 B"], ["bbb", "10.0 KiB"]], new Set([1]))).toBe(
      ["ID       SIZE", "a         1 B", "bbb  10.0 KiB"].join("\n"),
    );
  });
});

const REPORT = {
  samples: 200,
  accuracy: { fp32: 0.9, variant: 0.885, drop: 1.5 },
  agreement: 0.97,
  outputs: [{ cosine: 0.9991234567 }],
  latencyMs: { fp32: 0.5, variant: 0.25 },
  engine: "onnxruntime-web",
};

describe("evalLine", () => {
  it("gives accuracy before and after with the drop in points, agreement, cosine, latency and engine", () => {
    expect(evalLine(REPORT)).toBe(
      "accuracy 90.00% -> 88.50% (-1.50 pp), agreement 97.00%, cosine 0.999123, latency 0.500 -> 0.250 ms, onnxruntime-web on 200 samples",
    );
  });

  it("leaves out accuracy without labels and latency the Worker's clock could not measure", () => {
    expect(evalLine({ ...REPORT, accuracy: null, latencyMs: { fp32: 0, variant: 0 } })).toBe("agreement 97.00%, cosine 0.999123, onnxruntime-web on 200 samples");
    expect(evalLine({ ...REPORT, accuracy: null, latencyMs: { fp32: null, variant: null } })).toBe("agreement 97.00%, cosine 0.999123, onnxruntime-web on 200 samples");
    expect(evalLine({ ...REPORT, latencyMs: { fp32: null, variant: 0.25 } })).toContain("latency — -> 0.250 ms");
  });

  it("shows a gain as a positive change", () => {
    expect(evalLine({ ...REPORT, accuracy: { fp32: 0.9, variant: 0.91, drop: -1 } })).toContain("(+1.00 pp)");
  });
});

describe("evalCells", () => {
  it("is the signed change in points, agreement and the variant's latency", () => {
    expect(evalCells(REPORT)).toEqual(["-1.50 pp", "97.00%", "0.250 ms"]);
  });

  it("is dashes for a variant not evaluated, and for accuracy without labels", () => {
    expect(evalCells(undefined)).toEqual(["—", "—", "—"]);
    expect(evalCells({ ...REPORT, accuracy: null, latencyMs: { variant: 0 } })).toEqual(["—", "97.00%", "—"]);
    expect(evalCells({ ...REPORT, latencyMs: { variant: null } })).toEqual(["-1.50 pp", "97.00%", "—"]);
  });
});

describe("warningLines", () => {
  it("prints each pruning warning of a variant on its own indented line", () => {
    const v = { prune: { warnings: ["mel.weight (mel/MatMul): capped at sparsity 0.95", "fc.weight (fc/MatMul): output changed by 0.61"] } };
    expect(warningLines(v)).toEqual([
      "  warning: mel.weight (mel/MatMul): capped at sparsity 0.95",
      "  warning: fc.weight (fc/MatMul): output changed by 0.61",
    ]);
  });

  it("prints nothing for a variant without pruning or made before warnings existed", () => {
    expect(warningLines({})).toEqual([]);
    expect(warningLines({ prune: {} })).toEqual([]);
  });
});
