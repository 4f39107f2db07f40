// Serving through an experiment: pick the arm locally, answer with it, then (after the answer, in waitUntil)
// run the shadow arms or the sampled control, compare outputs, and record the request's metrics.
import type { Env } from "../env";
import type { ModelRecord } from "../catalog/records";
import { compareOutputs, top1Rows, type Agreement } from "../experiments/agreement";
import { assignArm } from "../experiments/assignment";
import { ORIGINAL, type ExperimentConfig } from "../experiments/config";
import type { ArmRun } from "../experiments/arm-metrics";
import { checkInputs, type InputTensor, type JsonTensor } from "../serve/inputs";
import type { TenantStore } from "../store/tenant";
import { cachedExperiment } from "./config-cache";
import { runInference, type InferenceAnswer, type Served } from "./infer";
import { recordEvent } from "./recorder";

/** Request (and response) header carrying the arm a client should stay on. */
export const ARM_HEADER = "x-slimserve-arm";
export const REQUEST_HEADER = "x-slimserve-request";

export interface ExperimentAnswer extends InferenceAnswer {
  experiment: string;
  arm: string;
  requestId: string;
}

type WaitUntil = { waitUntil(p: Promise<unknown>): void };

/** Which arm answers: the winner once concluded, the control in shadow mode, else the assignment. */
export function answeringArm(config: ExperimentConfig, header: (name: string) => string | undefined, random: () => number): string {
  if (config.status !== "running") return config.winner ?? config.control;
  if (config.mode === "shadow") return config.control;
  return assignArm(config.name, config.arms, {
    stickyKey: config.sticky ? header(config.sticky.header) : undefined,
    token: header(ARM_HEADER),
    random,
  }).arm;
}

/** The arms that also run on this request after the answer. */
export function backgroundArms(config: ExperimentConfig, answering: string, random: () => number): string[] {
  if (config.status !== "running") return [];
  if (config.mode === "shadow") return config.arms.filter((a) => a.variant !== config.control && a.weight > 0).map((a) => a.variant);
  return answering !== config.control && random() < config.agreementSample ? [config.control] : [];
}

const runArm = (store: TenantStore, model: ModelRecord, arm: string, inputs: Record<string, InputTensor>): Promise<Served> =>
  runInference(store, model, arm === ORIGINAL ? {} : { variant: arm }, inputs);

/** The first declared output is the one compared and scored. */
function firstOutput(model: ModelRecord, answer: InferenceAnswer): JsonTensor | undefined {
  return answer.outputs[model.outputs[0]?.name ?? ""] ?? Object.values(answer.outputs)[0];
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

export async function serveExperiment(
  env: Env,
  ctx: WaitUntil,
  store: TenantStore,
  name: string,
  inputs: Record<string, InputTensor>,
  header: (name: string) => string | undefined,
): Promise<{ answer: ExperimentAnswer; timing: Served["timing"] }> {
  const { config, model } = await cachedExperiment(env, store, name);
  const tenant = store.tenant;
  // The client's own mistakes fail before any arm runs and count against none.
  checkInputs(model.inputs, inputs);
  const arm = answeringArm(config, header, Math.random);
  const requestId = crypto.randomUUID();
  const served = await timed(() => runArm(store, model, arm, inputs));
  if (!served.value) {
    recordEvent(env, ctx, tenant, name, { requestId, runs: [{ arm, served: true, ok: false, ms: served.ms }], agreement: [] });
    throw served.error;
  }
  const { answer, timing } = served.value;
  const others = backgroundArms(config, arm, Math.random);
  const runs: ArmRun[] = [{ arm, served: true, ok: true, ms: served.ms, top1: top1Of(model, answer) }];
  if (others.length === 0) recordEvent(env, ctx, tenant, name, { requestId, runs, agreement: [] });
  else ctx.waitUntil(runInBackground(env, ctx, store, config, model, inputs, { requestId, arm, answer, runs }, others));
  return { answer: { ...answer, experiment: name, arm, requestId }, timing };
}

function top1Of(model: ModelRecord, answer: InferenceAnswer): number[] | undefined {
  const out = firstOutput(model, answer);
  return out ? top1Rows(out) : undefined;
}

async function runInBackground(
  env: Env,
  ctx: WaitUntil,
  store: TenantStore,
  config: ExperimentConfig,
  model: ModelRecord,
  inputs: Record<string, InputTensor>,
  served: { requestId: string; arm: string; answer: InferenceAnswer; runs: ArmRun[] },
  others: string[],
): Promise<void> {
  const agreement: ({ arm: string } & Agreement)[] = [];
  // One at a time: a shadow run shares the isolate's CPU and memory with the requests being answered.
  for (const other of others) {
    const run = await timed(async () => (await runArm(store, model, other, inputs)).answer);
    served.runs.push({ arm: other, served: false, ok: run.value !== undefined, ms: run.ms, top1: run.value && top1Of(model, run.value) });
    if (!run.value) continue;
    const [control, candidate, arm] = other === config.control ? [run.value, served.answer, served.arm] : [served.answer, run.value, other];
    const controlOut = firstOutput(model, control);
    const candidateOut = firstOutput(model, candidate);
    const cmp = controlOut && candidateOut ? compareOutputs(controlOut, candidateOut) : null;
    if (cmp) agreement.push({ arm, ...cmp });
  }
  recordEvent(env, ctx, store.tenant, config.name, { requestId: served.requestId, runs: served.runs, agreement });
}
