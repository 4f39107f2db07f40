// Rate limiting, per tenant token, and of sign-in attempts, per client address: 429 `rate_limited` with Retry-After.
// Where a rate-limiting binding is deployed (RATE_LIMITER, Cloudflare's: per location, across isolates) it decides;
// elsewhere (wrangler dev, tests) a token bucket in the isolate does (worker/isolate.ts rateBuckets), which needs no
// remote call on the warm path and is exact where one isolate serves, as under `wrangler dev`. See docs/limits.md.
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Env } from "./env";
import { errorBody } from "./errors";
import { isolate } from "./isolate";
import { tenantLimits } from "./limits";

/** Seconds to wait before the next attempt, or 0 when `key` may go on now. */
async function wait(env: Env, key: string, capacity: number, periodSeconds: number): Promise<number> {
  if (env.RATE_LIMITER) return (await env.RATE_LIMITER.limit({ key })).success ? 0 : periodSeconds;
  return isolate.rateBuckets.take(key, capacity, periodSeconds);
}

/** After bearer auth: the tenant's requests, RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD_SECONDS. */
export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limits = c.var.store.limits;
  const seconds = await wait(c.env, `api:${c.var.tenant}`, limits.requests, limits.periodSeconds);
  if (seconds > 0) {
    c.header("Retry-After", String(seconds));
    return c.json(errorBody("rate_limited", `rate limit: ${limits.requests} requests per ${limits.periodSeconds} s per token; retry after ${seconds} s`), 429);
  }
  await next();
};

/** Seconds a sign-in attempt from this client must wait (0: go on), LOGIN_ATTEMPTS per LOGIN_PERIOD_SECONDS. */
export function signInWait(c: Context<AppEnv>): Promise<number> {
  const limits = tenantLimits(c.env);
  const address = c.req.header("CF-Connecting-IP") ?? c.req.header("X-Forwarded-For")?.split(",")[0]?.trim() ?? "unknown";
  return wait(c.env, `login:${address}`, limits.loginAttempts, limits.loginPeriodSeconds);
}
