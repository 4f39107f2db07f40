// Unit tests: pure modules (codec, validation, quantizers, kernels' references) in Node.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.worker.test.ts", "test/**/*.e2e.test.ts", "node_modules/**"],
    setupFiles: ["test/support/compression-kernels.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
