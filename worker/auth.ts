// Bearer-token authentication: maps a token to its tenant, who sees only its own models, and binds that tenant's
// store (c.var.store) once for the request.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import type { AppEnv } from "./env";
import { TenantStore } from "./store/tenant";

/** Parses TOKENS ("token:tenant,token2:tenant2") into a lookup table. */
export function parseTokens(spec: string | undefined): Map<string, string> {
  const table = new Map<string, string>();
  for (const pair of (spec ?? "").split(",")) {
    const trimmed = pair.trim();
    if (!trimmed) continue;
    const colon = trimmed.lastIndexOf(":");
    if (colon <= 0 || colon === trimmed.length - 1) continue;
    const tenant = trimmed.slice(colon + 1).trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(tenant)) continue;
    table.set(trimmed.slice(0, colon).trim(), tenant);
  }
  return table;
}

/** A known token by its SHA-256 digest: the request's token is compared digest to digest, never as a string. */
export interface KnownToken {
  digest: Uint8Array;
  tenant: string;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export async function knownTokens(table: Map<string, string>): Promise<KnownToken[]> {
  return Promise.all([...table].map(async ([token, tenant]) => ({ digest: await sha256(token), tenant })));
}

/** 0 when equal; the loop visits every byte whatever differs (digests are all 32 bytes). */
function digestDifference(a: Uint8Array, b: Uint8Array): number {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i] ?? 0);
  return diff;
}

/**
 * The tenant of a presented token, or null. Every known token's digest is compared in full, with no early exit, so
 * the time taken says nothing about how much of a token matched (string comparison stops at the first difference).
 */
export async function tenantForToken(presented: string, known: readonly KnownToken[]): Promise<string | null> {
  const digest = await sha256(presented);
  let tenant: string | null = null;
  for (const k of known) {
    if (digestDifference(digest, k.digest) === 0) tenant = k.tenant;
  }
  return tenant;
}

let cachedSpec: string | undefined;
let cachedKnown: Promise<KnownToken[]> = Promise.resolve([]);

export const bearerAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.env.TOKENS !== cachedSpec) {
    cachedSpec = c.env.TOKENS;
    cachedKnown = knownTokens(parseTokens(c.env.TOKENS));
  }
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, "unauthorized", "missing bearer token: send 'Authorization: Bearer <token>'");
  const tenant = await tenantForToken(match[1]!, await cachedKnown);
  if (!tenant) throw new ApiError(401, "unauthorized", "unknown bearer token");
  c.set("tenant", tenant);
  c.set("store", new TenantStore(c.env, tenant));
  await next();
};
