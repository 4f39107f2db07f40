// Per-isolate cache of each experiment's config (and its model's record), so that a warm inference reads no
// remote store: worker/isolate.ts's `experimentConfigs`. An entry is fresh for 5 s; sooner, a metrics flush that
// reports a newer version drops it, and changes made through this isolate replace it at once.
import { notFound } from "../domain-error";
import { isolate, type CachedExperiment } from "../isolate";
import type { Env } from "../env";
import { requireModel } from "../catalog/models";
import type { ModelRecord } from "../catalog/records";
import type { ExperimentConfig } from "../experiments/config";
import type { TenantStore } from "../store/tenant";

export const experimentKey = (tenant: string, name: string) => `${tenant}/${name}`;

export function experimentStub(env: Env, tenant: string, name: string) {
  return env.EXPERIMENTS.get(env.EXPERIMENTS.idFromName(experimentKey(tenant, name)));
}

export async function cachedExperiment(env: Env, store: TenantStore, name: string): Promise<CachedExperiment> {
  const tenant = store.tenant;
  const key = experimentKey(tenant, name);
  const hit = isolate.experimentConfigs.get(key);
  if (hit?.fresh) return hit.value;
  const config = await experimentStub(env, tenant, name).getConfig();
  if (!config) {
    isolate.experimentConfigs.delete(key);
    throw notFound("experiment", name);
  }
  const model = hit?.value.model.id === config.model ? hit.value.model : await requireModel(store, config.model);
  const entry = { config, model };
  isolate.experimentConfigs.set(key, entry);
  return entry;
}

/** A config this isolate just wrote (create, patch, promote, rollback). */
export function rememberConfig(tenant: string, config: ExperimentConfig, model?: ModelRecord): void {
  const key = experimentKey(tenant, config.name);
  const known = model ?? isolate.experimentConfigs.get(key)?.value.model;
  if (known && known.id === config.model) isolate.experimentConfigs.set(key, { config, model: known });
  else isolate.experimentConfigs.delete(key);
}

export function forgetExperiment(tenant: string, name: string): void {
  isolate.experimentConfigs.delete(experimentKey(tenant, name));
}

/** The Durable Object's current version, as a flush reply reports it: a different one makes the entry stale. */
export function noteVersion(tenant: string, name: string, version: number): void {
  const key = experimentKey(tenant, name);
  if (isolate.experimentConfigs.get(key)?.value.config.version !== version) isolate.experimentConfigs.delete(key);
}
