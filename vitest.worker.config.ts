// Integration tests: the Worker itself in workerd (vitest-pool-workers) with Miniflare's local R2 and KV.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { aliases } from "./vitest.aliases";

/** The workerd test setup for the files `include` names (the quality benchmark reuses it for bench/quality.worker.ts). */
export function workerdConfig(include: string[], testTimeout = 60_000) {
  return defineConfig({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TOKENS: "test-token:alpha,other-token:beta",
            MAX_UPLOAD_BYTES: String(4 * 1024 * 1024),
            // Test files send many requests from one tenant; the bounds themselves are tested with their own env.
            RATE_LIMIT_REQUESTS: "1000000",
            LOGIN_ATTEMPTS: "1000000",
            MAX_RUNNING_JOBS: "1000",
          },
        },
      }),
    ],
    resolve: { alias: aliases },
    test: {
      root: new URL(".", import.meta.url).pathname,
      include,
      globalSetup: ["test/support/references.global.ts"],
      setupFiles: ["test/support/worker-setup.ts"],
      testTimeout,
    },
  });
}

export default workerdConfig(["test/**/*.worker.test.ts"]);
