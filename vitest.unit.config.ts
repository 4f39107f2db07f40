// Unit tests: pure modules (codec, validation, quantizers, kernels' references) in Node; the global setup generates
// the small model zoo (scripts/zoo/zoo.py) once, cached under .cache/zoo/.
import { defineConfig } from "vitest/config";
import { aliases } from "./vitest.aliases";

export default defineConfig({
  resolve: { alias: aliases },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.worker.test.ts", "test/**/*.e2e.test.ts", "node_modules/**"],
    setupFiles: ["test/support/compression-kernels.ts"],
    globalSetup: ["test/support/zoo.global.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
