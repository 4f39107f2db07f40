// The tenant's quotas, checked before anything is stored (the bounds are worker/limits.ts's), and its usage against
// each of them (GET /v1/usage). Usage is counted from KV listings, so a check costs a few list calls, no per-item read.
import { checkQuota, type QuotaName } from "../limits";
import type { TenantStore } from "../store/tenant";

export interface Adding {
  models?: number;
  datasets?: number;
  experiments?: number;
  /** One more variant of this model. */
  variantOf?: string;
  bytes?: number;
}

/** Throws QuotaExceeded (naming the limit and the usage) when storing `adding` would pass a quota. */
export async function requireRoom(store: TenantStore, adding: Adding, what: string): Promise<void> {
  const usage = await store.usage();
  const max = store.limits;
  if (adding.models) checkQuota("models", usage.models, adding.models, max.models, what);
  if (adding.datasets) checkQuota("datasets", usage.datasets, adding.datasets, max.datasets, what);
  if (adding.experiments) checkQuota("experiments", usage.experiments, adding.experiments, max.experiments, what);
  if (adding.variantOf) checkQuota("variantsPerModel", usage.variantsByModel.get(adding.variantOf) ?? 0, 1, max.variantsPerModel, what);
  if (adding.bytes) checkQuota("storedBytes", usage.storedBytes, adding.bytes, max.storedBytes, what);
}

/** Jobs queued or running, but `joining` (a request that joins a job already counted adds nothing). */
export async function requireJobRoom(store: TenantStore, joining: string): Promise<void> {
  const ids = (await store.unfinishedJobs()).filter((id) => id !== joining);
  checkQuota("runningJobs", ids.length, 1, store.limits.runningJobs, "wait for a job to end");
}

export type UsageReport = Record<QuotaName, { used: number; max: number }> & {
  rateLimit: { requests: number; periodSeconds: number };
};

export async function usageReport(store: TenantStore): Promise<UsageReport> {
  const u = await store.usage();
  const max = store.limits;
  return {
    models: { used: u.models, max: max.models },
    variantsPerModel: { used: Math.max(0, ...u.variantsByModel.values()), max: max.variantsPerModel },
    datasets: { used: u.datasets, max: max.datasets },
    experiments: { used: u.experiments, max: max.experiments },
    storedBytes: { used: u.storedBytes, max: max.storedBytes },
    runningJobs: { used: u.runningJobs, max: max.runningJobs },
    rateLimit: { requests: max.requests, periodSeconds: max.periodSeconds },
  };
}
