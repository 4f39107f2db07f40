// Requests to the Worker under test (workerd, through SELF) with the test tenants' tokens.
import { SELF } from "cloudflare:test";

export const TOKENS = { alpha: "test-token", beta: "other-token" } as const;

type Tenant = keyof typeof TOKENS;

export function api(path: string, init: RequestInit & { tenant?: Tenant | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const tenant = init.tenant === undefined ? "alpha" : init.tenant;
  if (tenant) headers.set("Authorization", `Bearer ${TOKENS[tenant]}`);
  return SELF.fetch(`https://slimserve.test${path}`, { ...init, headers });
}

export function uploadModel(bytes: Uint8Array, opts: { name?: string; tenant?: Tenant } = {}): Promise<Response> {
  const q = opts.name ? `?name=${encodeURIComponent(opts.name)}` : "";
  return api(`/v1/models${q}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream" },
    body: bytes,
    tenant: opts.tenant,
  });
}

export function postJson(path: string, body: unknown, tenant?: Tenant): Promise<Response> {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), tenant });
}

export async function expectError(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error?: { code: string; message: string } };
  if (!body.error) throw new Error(`expected an error body, got ${JSON.stringify(body)}`);
  return { status: res.status, code: body.error.code, message: body.error.message };
}

export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Polls a job (GET url) every 100 ms until it has succeeded or failed, for at most a minute. */
export async function pollJob(url: string): Promise<Record<string, any>> {
  for (let i = 0; i < 600; i++) {
    const job = (await (await api(url)).json()) as Record<string, any>;
    if (job.status === "succeeded" || job.status === "failed") return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("job did not finish");
}
