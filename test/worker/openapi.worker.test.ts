// The OpenAPI document describes every route the app registers, and /docs renders every operation of it.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "@worker/index";

/** The dashboard's pages and the document itself, not API operations; every other route must be documented. */
const UNDOCUMENTED = new Set([
  "GET /openapi.json",
  "GET /docs",
  "GET /",
  "POST /login",
  "POST /logout",
  "GET /models/{id}",
  "GET /models/{id}/onnx",
  "GET /models/{id}/variants/{vid}/onnx",
  "GET /jobs",
  "GET /jobs/{id}",
  "GET /jobs/{id}/state",
  "GET /experiments",
  "GET /experiments/{name}",
]);

const toOpenApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

async function documentedOperations(): Promise<Set<string>> {
  const res = await SELF.fetch("https://x/openapi.json");
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  const ops = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) ops.add(`${method.toUpperCase()} ${path}`);
  }
  return ops;
}

function registeredOperations(): string[] {
  const ops = app.routes
    .filter((r) => r.method !== "ALL") // middleware (auth, body limits) registers as ALL
    .map((r) => `${r.method} ${toOpenApiPath(r.path)}`)
    .filter((op) => !UNDOCUMENTED.has(op));
  return [...new Set(ops)];
}

describe("/openapi.json", () => {
  it("documents every route registered in the app", async () => {
    const documented = await documentedOperations();
    const registered = registeredOperations();
    expect(registered.length).toBeGreaterThanOrEqual(9);
    expect(registered.filter((op) => !documented.has(op))).toEqual([]);
  });

  it("documents no operation the app does not serve", async () => {
    const registered = new Set(registeredOperations());
    expect([...(await documentedOperations())].filter((op) => !registered.has(op))).toEqual([]);
  });

  it("marks only the health checks (and the V2 server's metadata) as needing no token", async () => {
    const doc = (await (await SELF.fetch("https://x/openapi.json")).json()) as {
      security: unknown[];
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.security).toEqual([{ bearer: [] }]);
    const open = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
        .map(([m]) => `${m.toUpperCase()} ${path}`),
    );
    expect(open.sort()).toEqual(["GET /v1/health", "GET /v2", "GET /v2/health/live", "GET /v2/health/ready"]);
  });
});

describe("/docs", () => {
  it("renders every documented operation and schema as HTML without external assets", async () => {
    const res = await SELF.fetch("https://x/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    for (const op of await documentedOperations()) {
      const [method, path] = op.split(" ");
      expect(html, op).toContain(`data-method="${method}" data-path="${path}"`);
    }
    for (const schema of ["Model", "Variant", "Recipe", "InferRequest", "Error"]) {
      expect(html).toContain(`id="schema-${schema}"`);
    }
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/);
  });
});
