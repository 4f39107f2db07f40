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

let cachedSpec: string | undefined;
let cachedTable = new Map<string, string>();

export const bearerAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.env.TOKENS !== cachedSpec) {
    cachedSpec = c.env.TOKENS;
    cachedTable = parseTokens(c.env.TOKENS);
  }
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, "unauthorized", "missing bearer token: send 'Authorization: Bearer <token>'");
  const tenant = cachedTable.get(match[1]!);
  if (!tenant) throw new ApiError(401, "unauthorized", "unknown bearer token");
  c.set("tenant", tenant);
  c.set("store", new TenantStore(c.env, tenant));
  await next();
};
