// End-to-end tests: `wrangler dev` on loopback driven by the CLI (child processes) and by Chromium (playwright-core).
import { defineConfig } from "vitest/config";
import { aliases } from "./vitest.aliases";

export default defineConfig({
  resolve: { alias: aliases },
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  },
});
