// Unit tests: pure modules (codec, validation, quantizers, kernels' references) in Node.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/quality needs the reference models and data from scripts/train (enabled once they land).
    exclude: ["test/**/*.worker.test.ts", "test/**/*.e2e.test.ts", "test/quality/**", "node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
