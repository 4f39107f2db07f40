// The CLI's terminal output: progress line, tables, sizes.
import { describe, expect, it } from "vitest";
import { formatBytes, formatTable, progressLine } from "../../cli/format.js";

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

describe("formatBytes", () => {
  it("uses binary units with one decimal", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
  });
});
