// The experiment catalog: creating one (its model and variants checked, then the Durable Object, then the
// KV name index), reading, listing and changing them. The Durable Object holds the truth; KV only lists names.
import { requireRoom } from "../catalog/quotas";
import type { Page } from "../store/tenant";
import { DomainError, notFound } from "../domain-error";
import type { Env } from "../env";
import { requireModel } from "../catalog/models";
import type { VariantRecord } from "../catalog/records";
import { ORIGINAL, type ExperimentConfig, type ExperimentSpec } from "../experiments/config";
import { summarize } from "../experiments/arm-metrics";
import type { TenantStore } from "../store/tenant";
import { experimentStub, forgetExperiment, rememberConfig } from "./config-cache";
import type { ExperimentView, Outcome } from "./experiment-object";

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new DomainError(outcome.error.code, outcome.error.message);
}

/** The config with each arm's metrics, intervals and verdicts: what GET answers. */
export function describeExperiment(view: ExperimentView) {
  return { ...view.config, results: summarize(view.config, new Map(Object.entries(view.metrics))) };
}

export async function createExperiment(env: Env, store: TenantStore, spec: ExperimentSpec): Promise<ExperimentView> {
  const model = await requireModel(store, spec.model);
  await requireRoom(store, { experiments: 1 }, "delete an experiment first");
  const found = await Promise.all(
    spec.arms.filter((a) => a.variant !== ORIGINAL).map((a) => store.getVariant<VariantRecord>(model.id, a.variant)),
  );
  const variantIds = found.flatMap((v) => (v ? [v.id] : []));
  const config = unwrap(await experimentStub(env, store.tenant, spec.name).create(spec, variantIds));
  await store.putExperimentName(spec.name, spec.model);
  rememberConfig(store.tenant, config, model);
  return { config, metrics: {} };
}

export async function readExperiment(env: Env, store: TenantStore, name: string): Promise<ExperimentView> {
  const view = await experimentStub(env, store.tenant, name).view();
  if (!view) throw notFound("experiment", name);
  return view;
}

export async function listExperiments(env: Env, store: TenantStore): Promise<ExperimentView[]> {
  return viewsOf(env, store, await store.listExperimentNames());
}

/** A page of experiments by name: the names from one KV list, each view from its Durable Object (the truth). */
export async function listExperimentPage(env: Env, store: TenantStore, cursor?: string, limit?: number): Promise<Page<ExperimentView>> {
  const page = await store.listExperimentNamePage(cursor, limit);
  return { items: await viewsOf(env, store, page.items), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

async function viewsOf(env: Env, store: TenantStore, names: string[]): Promise<ExperimentView[]> {
  const views = await Promise.all(names.map((n) => experimentStub(env, store.tenant, n).view()));
  return views.flatMap((v) => (v ? [v as ExperimentView] : []));
}

type Stub = ReturnType<typeof experimentStub>;

/** Applies a transition in the Durable Object and keeps this isolate's cached copy in step. */
export async function changeExperiment(
  env: Env,
  store: TenantStore,
  name: string,
  change: (stub: Stub) => Promise<Outcome<ExperimentConfig>>,
): Promise<ExperimentView> {
  const stub = experimentStub(env, store.tenant, name);
  const config = unwrap(await change(stub));
  rememberConfig(store.tenant, config);
  return (await stub.view()) ?? { config, metrics: {} };
}

export async function deleteExperiment(env: Env, store: TenantStore, name: string): Promise<void> {
  const existed = await experimentStub(env, store.tenant, name).destroy();
  forgetExperiment(store.tenant, name);
  await store.deleteExperimentName(name);
  if (!existed) throw notFound("experiment", name);
}

export async function recordFeedback(env: Env, store: TenantStore, name: string, requestId: string, label: number | number[]) {
  return unwrap(await experimentStub(env, store.tenant, name).feedback(requestId, label));
}
