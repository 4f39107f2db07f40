// Per-isolate cache of each experiment's config (and its model's record), so that a warm inference reads no
// remote store. An entry lives at most CONFIG_TTL_MS; sooner, a metrics flush that reports a newer version
// drops it, and changes made through this isolate replace it at once.
import { notFound } from "../domain-error";
import type { Env } from "../env";
import { requireModel } from "../catalog/models";
import type { ModelRecord } from "../catalog/records";
import type { ExperimentConfig } from "../experiments/config";
import type { TenantStore } from "../store/tenant";

export const CONFIG_TTL_MS = 5_000;
const MAX_ENTRIES = 1_000;

export interface CachedExperiment {
  config: ExperimentConfig;
  model: ModelRecord;
  fetchedAt: number;
}

const entries = new Map<string, CachedExperiment>();

export const experimentKey = (tenant: string, name: string) => `${tenant}/${name}`;

export function experimentStub(env: Env, tenant: string, name: string) {
  return env.EXPERIMENTS.get(env.EXPERIMENTS.idFromName(experimentKey(tenant, name)));
}

function put(key: string, entry: CachedExperiment): void {
  entries.delete(key);
  entries.set(key, entry);
  if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
}

export async function cachedExperiment(env: Env, store: TenantStore, name: string): Promise<CachedExperiment> {
  const tenant = store.tenant;
  const key = experimentKey(tenant, name);
  const hit = entries.get(key);
  if (hit && Date.now() - hit.fetchedAt < CONFIG_TTL_MS) return hit;
  const config = await experimentStub(env, tenant, name).getConfig();
  if (!config) {
    entries.delete(key);
    throw notFound("experiment", name);
  }
  const model = hit?.model.id === config.model ? hit.model : await requireModel(store, config.model);
  const entry = { config, model, fetchedAt: Date.now() };
  put(key, entry);
  return entry;
}

/** A config this isolate just wrote (create, patch, promote, rollback). */
export function rememberConfig(tenant: string, config: ExperimentConfig, model?: ModelRecord): void {
  const key = experimentKey(tenant, config.name);
  const known = model ?? entries.get(key)?.model;
  if (known && known.id === config.model) put(key, { config, model: known, fetchedAt: Date.now() });
  else entries.delete(key);
}

export function forgetExperiment(tenant: string, name: string): void {
  entries.delete(experimentKey(tenant, name));
}

/** The Durable Object's current version, as a flush reply reports it: a different one makes the entry stale. */
export function noteVersion(tenant: string, name: string, version: number): void {
  const key = experimentKey(tenant, name);
  if (entries.get(key)?.config.version !== version) entries.delete(key);
}
