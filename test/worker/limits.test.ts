// The tenant bounds' defaults and how [vars] change them, and the token buckets that count requests.
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, LIMIT_VARS, tenantLimits, TokenBuckets } from "@worker/limits";

describe("tenantLimits", () => {
  it("takes each bound from its variable, and the default where it is unset or not a positive number", () => {
    expect(tenantLimits({})).toEqual(DEFAULT_LIMITS);
    const limits = tenantLimits({ MAX_MODELS: "3", MAX_DATASETS: "-1", MAX_EXPERIMENTS: "many", RATE_LIMIT_REQUESTS: "12.7" });
    expect(limits).toMatchObject({ models: 3, datasets: DEFAULT_LIMITS.datasets, experiments: DEFAULT_LIMITS.experiments, requests: 12 });
  });

  it("names a variable for every bound", () => {
    expect(Object.keys(LIMIT_VARS).sort()).toEqual(Object.keys(DEFAULT_LIMITS).sort());
  });
});

describe("TokenBuckets", () => {
  it("grants `capacity` at once, then one per period/capacity, saying how long to wait", () => {
    const buckets = new TokenBuckets(10);
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect(buckets.take("k", 3, 60, t0)).toBe(0);
    expect(buckets.take("k", 3, 60, t0)).toBe(20); // one token every 20 s
    expect(buckets.take("k", 3, 60, t0 + 10_000)).toBe(10);
    expect(buckets.take("k", 3, 60, t0 + 20_000)).toBe(0);
    expect(buckets.take("other", 3, 60, t0)).toBe(0);
  });

  it("keeps at most maxKeys buckets, dropping the one touched longest ago", () => {
    const buckets = new TokenBuckets(2);
    expect(buckets.take("a", 1, 60, 0)).toBe(0);
    buckets.take("b", 1, 60, 0);
    buckets.take("c", 1, 60, 0); // "a" goes
    expect(buckets.take("a", 1, 60, 0)).toBe(0);
    expect(buckets.take("c", 1, 60, 0)).toBeGreaterThan(0);
  });
});
