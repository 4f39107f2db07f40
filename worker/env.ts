// Bindings and variables the Worker receives (see wrangler.toml and .dev.vars). Declared on Cloudflare.Env so
// that `cloudflare:test`'s env in the workerd tests has the same type. The two Durable Object namespaces are
// declared where their classes are composed into the Worker (worker/index.ts), so that this module imports nothing.
import type { TenantStore } from "./store/tenant";

declare global {
  namespace Cloudflare {
    interface Env {
      BLOBS: R2Bucket;
      RECORDS: KVNamespace;
      /** "token:tenant" pairs, comma separated (a secret in production). */
      TOKENS?: string;
      MAX_UPLOAD_BYTES?: string;
      SESSION_CACHE_BYTES?: string;
      /** Cloudflare's rate-limiting binding, where deployed ([[ratelimits]]); else an in-isolate bucket (worker/rate-limit.ts). */
      RATE_LIMITER?: RateLimit;
      // Tenant quotas and rate limits (worker/limits.ts reads them, with defaults): MAX_MODELS, MAX_VARIANTS_PER_MODEL,
      // MAX_DATASETS, MAX_EXPERIMENTS, MAX_STORED_BYTES, MAX_RUNNING_JOBS, RATE_LIMIT_REQUESTS,
      // RATE_LIMIT_PERIOD_SECONDS, LOGIN_ATTEMPTS, LOGIN_PERIOD_SECONDS.
    }
  }
}

export type Env = Cloudflare.Env;

/** Per request: the caller's tenant and that tenant's store, bound once by the auth middleware. */
/** `received`: performance.now() when the request arrived (the first middleware), for Server-Timing totals. */
export type AppEnv = {
  Bindings: Env;
  /** `body`: a JSON or form body as the body-limits middleware read it (routes that read bytes take it from here). */
  Variables: { tenant: string; store: TenantStore; received: number; body?: Uint8Array };
};
