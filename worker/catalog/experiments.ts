// The experiment catalog: creating one (its model and variants checked, then the Durable Object, then the
// KV name index), reading, listing and changing them. The Durable Object holds the truth; KV only lists names.
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { ORIGINAL, type ExperimentConfig, type ExperimentSpec } from "../experiments/config";
import { experimentStub, forgetExperiment, rememberConfig } from "../experiments/config-cache";
import { summarize } from "../experiments/arm-metrics";
import type { ExperimentView, Outcome } from "../experiments/object";
import { experimentRecordKey, experimentRecordPrefix } from "../store/keys";
import { getVariantRecord } from "../store/records";
import { requireModel } from "./models";

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { status, code, message } = outcome.error;
  throw new ApiError(status as ApiError["status"], code, message);
}

/** The config with each arm's metrics, intervals and verdicts: what GET answers. */
export function describeExperiment(view: ExperimentView) {
  return { ...view.config, results: summarize(view.config, new Map(Object.entries(view.metrics))) };
}

export async function createExperiment(env: Env, tenant: string, spec: ExperimentSpec): Promise<ExperimentView> {
  const model = await requireModel(env, tenant, spec.model);
  const found = await Promise.all(
    spec.arms.filter((a) => a.variant !== ORIGINAL).map((a) => getVariantRecord(env, tenant, model.id, a.variant)),
  );
  const variantIds = found.flatMap((v) => (v ? [v.id] : []));
  const config = unwrap(await experimentStub(env, tenant, spec.name).create(spec, variantIds));
  await env.RECORDS.put(experimentRecordKey(tenant, spec.name), JSON.stringify({ name: spec.name, model: spec.model }));
  rememberConfig(tenant, config, model);
  return { config, metrics: {} };
}

export async function readExperiment(env: Env, tenant: string, name: string): Promise<ExperimentView> {
  const view = await experimentStub(env, tenant, name).view();
  if (!view) throw notFound("experiment", name);
  return view;
}

export async function listExperiments(env: Env, tenant: string): Promise<ExperimentView[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.RECORDS.list({ prefix: experimentRecordPrefix(tenant), cursor });
    for (const k of page.keys) names.push(k.name.slice(experimentRecordPrefix(tenant).length));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  const views = await Promise.all(names.map((n) => experimentStub(env, tenant, n).view()));
  return views.flatMap((v) => (v ? [v as ExperimentView] : []));
}

type Stub = ReturnType<typeof experimentStub>;

/** Applies a transition in the Durable Object and keeps this isolate's cached copy in step. */
export async function changeExperiment(
  env: Env,
  tenant: string,
  name: string,
  change: (stub: Stub) => Promise<Outcome<ExperimentConfig>>,
): Promise<ExperimentView> {
  const stub = experimentStub(env, tenant, name);
  const config = unwrap(await change(stub));
  rememberConfig(tenant, config);
  return (await stub.view()) ?? { config, metrics: {} };
}

export async function deleteExperiment(env: Env, tenant: string, name: string): Promise<void> {
  const existed = await experimentStub(env, tenant, name).destroy();
  forgetExperiment(tenant, name);
  await env.RECORDS.delete(experimentRecordKey(tenant, name));
  if (!existed) throw notFound("experiment", name);
}

export async function recordFeedback(env: Env, tenant: string, name: string, requestId: string, label: number | number[]) {
  return unwrap(await experimentStub(env, tenant, name).feedback(requestId, label));
}
