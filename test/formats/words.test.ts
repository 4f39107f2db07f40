// Recipes and byte sizes in words, as both the CLI and the dashboard show them.
import { describe, expect, it } from "vitest";
import { formatBytes, recipeLabel, recipeWords } from "@formats/words.js";
import { SAMPLE_VARIANTS } from "@test/worker/dashboard/samples";

describe("formatBytes", () => {
  it("uses binary units with one decimal", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
  });
});

describe("recipeWords", () => {
  it("names pruning, structure and quantization scheme", () => {
    expect(recipeWords({ quantize: { bits: 8 } })).toBe("int8 weight-only");
    expect(recipeWords({ quantize: { bits: 2 } })).toBe("ternary weight-only");
    expect(recipeWords({ quantize: { bits: 1 } })).toBe("binary weight-only");
    expect(recipeWords({ quantize: { bits: 16 } })).toBe("fp16 weight-only");
    expect(recipeWords({ quantize: { bits: 8, scheme: "static", calibration: { dataset: "d" } } })).toBe("int8 static");
    expect(recipeWords({ prune: { sparsity: 0.5, structure: { n: 2, m: 4 } }, quantize: { bits: 8, scheme: "dynamic" } })).toBe("prune 50% 2:4 + int8 dynamic");
    expect(recipeWords({ prune: { sparsity: 0.25, structure: "channel" } })).toBe("prune 25% channel");
    expect(recipeWords({ quantize: { bits: 8, overrides: { a: 32, b: 32 } } })).toBe("int8 weight-only (2 layers overridden)");
    expect(recipeWords({ quantize: { bits: 4, granularity: { block: 32 }, rounding: { method: "gptq", dampening: 0.01, actOrder: false } } })).toBe("int4 weight-only gptq");
    expect(recipeWords({ quantize: { bits: 4, granularity: { block: 32 }, rounding: { method: "adaround", iterations: 500, regularization: 10 } } })).toBe("int4 weight-only adaround");
    expect(recipeLabel({ quantize: { bits: 2, rounding: { method: "adaround" } } })).toBe(`${recipeLabel({ quantize: { bits: 2 } })} adaround`);
    expect(recipeWords({ quantize: { bits: 8, scheme: "static", granularity: "per-tensor", biasCorrection: true, equalize: true } })).toMatch(/^int8 static .*bias-corrected$/);
    expect(recipeLabel({ quantize: { bits: 1, biasCorrection: true, rounding: { method: "gptq" } } })).toBe(`${recipeLabel({ quantize: { bits: 1 } })} gptq bc`);
    expect(recipeWords({ quantize: { bits: 4, granularity: { block: 32 }, scale: "mse", rounding: { method: "gptq" } } })).toBe("int4 weight-only mse scales gptq");
    expect(recipeLabel({ quantize: { bits: 4, scale: "mse" } })).toBe("int4 mse");
    expect(recipeWords({ quantize: { codebook: { bits: 4, scope: "per-layer" }, scheme: "weight-only" } })).toBe("4-bit codebook");
    expect(recipeWords({ prune: { sparsity: 0.9 }, quantize: { codebook: { bits: 3, scope: "per-channel" } } })).toBe("prune 90% + 3-bit codebook per channel");
    expect(recipeWords({ quantize: { pq: { subvector: 8, centroids: 256 }, calibration: { dataset: "d" } } })).toBe("pq 8x256 calibrated");
    expect(recipeWords(null)).toBe("—");
  });
});

describe("recipeLabel", () => {
  it("names a recipe in a chart label's few characters", () => {
    expect(recipeLabel(SAMPLE_VARIANTS[0]!.recipe)).toBe("int8");
    expect(recipeLabel(SAMPLE_VARIANTS[1]!.recipe)).toBe("p50% int8");
    expect(recipeLabel(SAMPLE_VARIANTS[2]!.recipe)).toBe("int8 static");
    expect(recipeLabel({ quantize: { codebook: { bits: 4 } } })).toBe("4-bit codebook");
    expect(recipeLabel({ quantize: { pq: { subvector: 16, centroids: 64 } } })).toBe("pq 16x64");
    expect(recipeLabel({})).toBe("variant");
  });
});

describe("recipeWords, with the API's full recipes", () => {
  it("summarizes quantization and pruning", () => {
    expect(recipeWords({ quantize: { bits: 8, scheme: "weight-only", granularity: "per-channel", symmetric: true } })).toBe("int8 weight-only");
    // No scheme given is the API's default, weight-only, and is named as such.
    expect(recipeWords({ prune: { sparsity: 0.5 }, quantize: { bits: 4 } })).toBe("prune 50% + int4 weight-only");
    expect(recipeWords(undefined)).toBe("—");
  });

  it("names a granularity or zero points only where they are not the width's default", () => {
    expect(recipeWords({ quantize: { bits: 8, scheme: "weight-only", granularity: "per-tensor", symmetric: false } })).toBe("int8 weight-only per-tensor zero points");
    expect(recipeWords({ quantize: { bits: 8, scheme: "static", granularity: { block: 64 }, symmetric: true } })).toBe("int8 static block 64");
    expect(recipeWords({ quantize: { bits: 4, scheme: "weight-only", granularity: { block: 32 }, symmetric: true } })).toBe("int4 weight-only");
    expect(recipeWords({ quantize: { bits: 4, scheme: "weight-only", granularity: { block: 128 }, symmetric: true } })).toBe("int4 weight-only block 128");
    expect(recipeWords({ quantize: { bits: 4, scheme: "weight-only", granularity: "per-channel", symmetric: true } })).toBe("int4 weight-only per-channel");
  });

  it("names the widths as users do: fp16, ternary, binary", () => {
    expect(recipeWords({ quantize: { bits: 16, scheme: "weight-only" } })).toBe("fp16 weight-only");
    expect(recipeWords({ quantize: { bits: 2, scheme: "weight-only", granularity: { block: 32 }, symmetric: true } })).toBe("ternary weight-only");
    expect(recipeWords({ quantize: { bits: 2, scheme: "weight-only", granularity: "per-channel", symmetric: true } })).toBe("ternary weight-only per-channel");
    expect(recipeWords({ quantize: { bits: 1, scheme: "weight-only", granularity: "per-channel", symmetric: true } })).toBe("binary weight-only");
    expect(recipeLabel({ prune: { sparsity: 0.3 }, quantize: { bits: 1 } })).toBe("p30% binary");
  });
});
