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
  const server = await startDevServer(Object.entries(E2E_TOKENS).map(([tenant, token]) => `${token}:${tenant}`).join(","));
  project.provide("baseUrl", server.url);
  return () => server.stop();
}
