// Every bound on a tenant in one place: the quotas and rate limits, read from wrangler.toml [vars] (strings) with the
// defaults below when a variable is unset or not a positive number; the quota error; and the token buckets that rate
// limiting and sign-in attempts use when no rate-limiting binding is deployed. docs/limits.md lists each bound.
import { DomainError } from "./domain-error";

export interface TenantLimits {
  models: number;
  variantsPerModel: number;
  datasets: number;
  experiments: number;
  /** Bytes of models, variants and datasets together (R2). */
  storedBytes: number;
  /** Jobs queued or running at once. */
  runningJobs: number;
  /** Requests per token in each period. */
  requests: number;
  periodSeconds: number;
  /** Sign-in attempts (POST /login) per client address in each login period. */
  loginAttempts: number;
  loginPeriodSeconds: number;
}

export const DEFAULT_LIMITS: TenantLimits = {
  models: 100,
  variantsPerModel: 50,
  datasets: 50,
  experiments: 20,
  storedBytes: 2 * 1024 ** 3,
  runningJobs: 4,
  requests: 600,
  periodSeconds: 60,
  loginAttempts: 10,
  loginPeriodSeconds: 300,
};

/** The [vars] name of each bound. */
export const LIMIT_VARS: Record<keyof TenantLimits, string> = {
  models: "MAX_MODELS",
  variantsPerModel: "MAX_VARIANTS_PER_MODEL",
  datasets: "MAX_DATASETS",
  experiments: "MAX_EXPERIMENTS",
  storedBytes: "MAX_STORED_BYTES",
  runningJobs: "MAX_RUNNING_JOBS",
  requests: "RATE_LIMIT_REQUESTS",
  periodSeconds: "RATE_LIMIT_PERIOD_SECONDS",
  loginAttempts: "LOGIN_ATTEMPTS",
  loginPeriodSeconds: "LOGIN_PERIOD_SECONDS",
};

export function tenantLimits(vars: object): TenantLimits {
  const read = vars as Record<string, unknown>;
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_VARS) as (keyof TenantLimits)[]) {
    const value = Number(read[LIMIT_VARS[key]]);
    if (read[LIMIT_VARS[key]] !== undefined && Number.isFinite(value) && value > 0) out[key] = Math.floor(value);
  }
  return out;
}

export type QuotaName = "models" | "variantsPerModel" | "datasets" | "experiments" | "storedBytes" | "runningJobs";

/**
 * A quota a request would pass: names the limit, its value and the tenant's usage. `retryable` quotas (running jobs)
 * free themselves (429); the others need the tenant to delete something (403).
 */
export class QuotaExceeded extends DomainError {
  override name = "QuotaExceeded";
  constructor(
    readonly limit: QuotaName,
    readonly max: number,
    readonly usage: number,
    readonly retryable: boolean,
    what: string,
  ) {
    super("quota_exceeded", `quota exceeded: ${limit} (${LIMIT_VARS[limit]}) is ${max}, usage is ${usage}; ${what}`);
  }
}

/** Throws when `usage + adding` would pass `max`. */
export function checkQuota(limit: QuotaName, usage: number, adding: number, max: number, what: string): void {
  if (usage + adding > max) throw new QuotaExceeded(limit, max, usage, limit === "runningJobs", what);
}

/** One key's bucket: tokens left and when they were counted. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key, refilled continuously (`capacity` tokens per `periodSeconds`). Bounded: past `maxKeys` the
 * key touched longest ago goes (its next request starts from a full bucket).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly maxKeys: number) {}

  /** Takes one token: 0 when granted, else the seconds until one is there. */
  take(key: string, capacity: number, periodSeconds: number, now = Date.now()): number {
    const rate = capacity / (periodSeconds * 1000);
    const held = this.buckets.get(key);
    const tokens = held ? Math.min(capacity, held.tokens + (now - held.at) * rate) : capacity;
    this.buckets.delete(key);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      return 0;
    }
    this.buckets.set(key, { tokens, at: now });
    return Math.max(1, Math.ceil((1 - tokens) / rate / 1000));
  }

  clear(): void {
    this.buckets.clear();
  }
}
