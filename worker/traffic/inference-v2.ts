// Serving over the Open Inference Protocol (KServe V2): what a `{model}` names (a model id, a variant id, an
// experiment's name, or a name the tenant gave a model) and `/versions/{v}` selects (a variant id or a bit-width), the
// model's metadata in V2 words, and inference through the same path as /v1 (runInference, serveExperiment).
import { DomainError, notFound } from "../domain-error";
import type { Env } from "../env";
import { requireModel } from "../catalog/models";
import type { ModelRecord } from "../catalog/records";
import { NAME_PATTERN } from "../experiments/config";
import { decodeRawInput, decodeV2Inputs, encodeV2Outputs, v2Signature, type V2Request, type V2ResponseOutput } from "../serve/inference-v2";
import type { InputTensor } from "../serve/inputs";
import { modelEntryKey, remembered } from "../serve/serving-cache";
import type { ServingTiming } from "../serve/server-timing";
import type { TenantStore } from "../store/tenant";
import { cachedExperiment } from "./config-cache";
import { resolveVariant, runInference, type ServingPick } from "./infer";
import { serveExperiment } from "./arms";

const ID = /^[0-9a-f]{24}$/;
const BITS = new Set(["32", "16", "8", "4", "2", "1"]);

/** What a `{model}` path segment names once resolved. */
export type V2Target =
  | { kind: "model"; name: string; model: ModelRecord; pick: ServingPick }
  | { kind: "experiment"; name: string; model: ModelRecord };

/** A name's meaning, remembered for the serving cache's 5 s: the model (and variant) it names, or an experiment. */
type Named = { model: string; variant?: string } | { experiment: string };

/** Every model of the tenant, page by page (bounded by the models quota). */
async function allModels(store: TenantStore): Promise<ModelRecord[]> {
  const models: ModelRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listModels(cursor);
    models.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return models;
}

async function lookUpName(env: Env, store: TenantStore, name: string): Promise<Named> {
  if (ID.test(name)) {
    if (await store.getModel(name)) return { model: name };
    for (const m of await allModels(store)) {
      if ((await store.listVariantSummaries(m.id)).some((v) => v.id === name)) return { model: m.id, variant: name };
    }
    throw notFound("model or variant", name);
  }
  if (NAME_PATTERN.test(name)) {
    try {
      await cachedExperiment(env, store, name);
      return { experiment: name };
    } catch (err) {
      if (!(err instanceof DomainError && err.code === "not_found")) throw err;
    }
  }
  // The newest model the tenant gave this name.
  const named = (await allModels(store)).filter((m) => m.name === name).sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  const newest = named.pop();
  if (!newest) throw notFound("model", name);
  return { model: newest.id };
}

/** `version`: a variant id or a bit-width ("32" is the original); none serves what `{model}` names. */
export async function resolveV2Target(env: Env, store: TenantStore, name: string, version?: string): Promise<V2Target> {
  const named = await remembered(`${store.tenant}/v2-name:${name}`, () => lookUpName(env, store, name));
  if ("experiment" in named) {
    if (version !== undefined) throw new DomainError("invalid_request", `'${name}' is an experiment: it picks the arm, not a version`);
    return { kind: "experiment", name, model: (await cachedExperiment(env, store, named.experiment)).model };
  }
  const model = await remembered(modelEntryKey(store.tenant, named.model), () => requireModel(store, named.model));
  const pick: ServingPick = named.variant ? { variant: named.variant } : {};
  if (version !== undefined) {
    if (ID.test(version)) {
      if (pick.variant && pick.variant !== version) throw new DomainError("invalid_request", `'${name}' is variant ${pick.variant}, not version ${version}`);
      pick.variant = version;
    } else if (BITS.has(version)) {
      pick.bits = Number(version);
    } else {
      throw new DomainError("invalid_request", `version '${version}' is neither a variant id (24 hex digits) nor a bit-width (${[...BITS].join(", ")})`);
    }
    // A version that names no variant is a 404 here too (ready, metadata), not only at inference.
    await resolveVariant(store, model, pick);
  }
  return { kind: "model", name, model, pick };
}

/** Model metadata as the protocol defines it; versions are "32" (the original) and the variant ids. */
export async function v2ModelMetadata(store: TenantStore, target: V2Target) {
  const variants = target.kind === "model" ? await store.listVariantSummaries(target.model.id) : [];
  return {
    name: target.name,
    versions: target.kind === "model" ? ["32", ...variants.map((v) => v.id)] : [],
    platform: "onnx",
    inputs: target.model.inputs.map(v2Signature),
    outputs: target.model.outputs.map(v2Signature),
  };
}

/** A V2 request as it arrived: its JSON header and the binary part after it, or a raw body of the one input. */
export type V2Body = { kind: "header"; request: V2Request; binary: Uint8Array } | { kind: "raw"; body: Uint8Array };

export interface V2Served {
  response: {
    model_name: string;
    model_version?: string;
    id?: string;
    parameters: Record<string, unknown>;
    outputs: V2ResponseOutput[];
  };
  /** Binary output data, in order, after the JSON response. */
  chunks: Uint8Array[];
  timing: ServingTiming;
  /** Through an experiment: the arm that answered and the request's id (the /v1 response headers). */
  experiment?: { arm: string; requestId: string };
}

export async function inferV2(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  store: TenantStore,
  target: V2Target,
  body: V2Body,
  header: (name: string) => string | undefined,
): Promise<V2Served> {
  const inputs: Record<string, InputTensor> =
    body.kind === "raw" ? decodeRawInput(target.model.inputs, body.body) : decodeV2Inputs(body.request, body.binary);
  // A raw request gets raw answers: every output as binary.
  const binaryAll = body.kind === "raw" || body.request.parameters?.binary_data_output === true;
  const wanted = { outputs: body.kind === "header" ? body.request.outputs : undefined, binaryAll };
  if (target.kind === "experiment") {
    const { answer, timing } = await serveExperiment(env, ctx, store, target.name, inputs, header);
    const { outputs, chunks } = encodeV2Outputs(answer.outputs, wanted);
    const parameters = { model: answer.model, variant: answer.variant, bits: answer.bits, engine: answer.engine, time_ms: answer.timeMs, arm: answer.arm, request_id: answer.requestId };
    const id = body.kind === "header" ? body.request.id : undefined;
    return { response: { model_name: target.name, id, parameters, outputs }, chunks, timing, experiment: { arm: answer.arm, requestId: answer.requestId } };
  }
  const { answer, timing } = await runInference(store, target.model, target.pick, inputs);
  const { outputs, chunks } = encodeV2Outputs(answer.outputs, wanted);
  const parameters = { model: answer.model, variant: answer.variant, bits: answer.bits, engine: answer.engine, time_ms: answer.timeMs };
  const id = body.kind === "header" ? body.request.id : undefined;
  return { response: { model_name: target.name, model_version: answer.variant ?? "32", id, parameters, outputs }, chunks, timing };
}
