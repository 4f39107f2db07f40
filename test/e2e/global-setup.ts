// One `wrangler dev` for the whole e2e tier; each test file signs in as its own tenant.
import type { TestProject } from "vitest/node";
import { E2E_TOKENS } from "./tokens";
import { startDevServer } from "./server";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await startDevServer(`${E2E_TOKENS.cli}:cli,${E2E_TOKENS.browser}:browser`);
  project.provide("baseUrl", server.url);
  return () => server.stop();
}
