// The real-graph families benchmark (bench/families.ts) alone, in Node with the unit tests' aliases and compression
// kernels; npm test's configs do not include bench/. Run by `npm run bench -- --only families`.
import { defineConfig } from "vitest/config";
import { aliases } from "../vitest.aliases";

export default defineConfig({
  resolve: { alias: aliases },
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["bench/families.ts"],
    setupFiles: ["test/support/compression-kernels.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
