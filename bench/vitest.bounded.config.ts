// The bounded-compression memory benchmark (bench/bounded.ts) alone, in Node with the unit tests' aliases and
// compression kernels, --expose-gc so that its baseline is taken after a collection. Run by `npm run bench -- --only
// big-models` after the Worker's part.
import { defineConfig } from "vitest/config";
import { aliases } from "../vitest.aliases";

export default defineConfig({
  resolve: { alias: aliases },
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["bench/bounded.ts"],
    setupFiles: ["test/support/compression-kernels.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    execArgv: ["--expose-gc"],
  },
});
