// Inference: resolve which model or variant serves the request, check the inputs, run the cached session.
import { ApiError, notFound } from "../errors";
import type { Env } from "../env";
import { readBlob } from "../catalog/models";
import { modelBlobKey, variantBlobKey } from "../store/keys";
import { getVariantRecord, listVariantSummaries, type ModelRecord } from "../store/records";
import { checkInputs, outputToJson, type JsonTensor } from "./inputs";
import { remembered } from "./serving-cache";
import type { ServingTiming } from "./server-timing";
import { getSession, sessionKey } from "./sessions";

export interface ServingPick {
  variant?: string;
  bits?: number;
}

export interface InferenceAnswer {
  outputs: Record<string, JsonTensor>;
  model: string;
  variant: string | null;
  bits: number;
  engine: string;
  timeMs: number;
}

/** The answer, and how it was served (the Server-Timing header; the body's shape stays as it was). */
export interface Served {
  answer: InferenceAnswer;
  timing: ServingTiming;
}

function resolveVariant(env: Env, tenant: string, model: ModelRecord, pick: ServingPick) {
  const key = `${tenant}/${model.id}/pick:${pick.variant ?? ""}:${pick.bits ?? ""}`;
  return remembered(key, () => lookUpVariant(env, tenant, model, pick));
}

async function lookUpVariant(env: Env, tenant: string, model: ModelRecord, pick: ServingPick): Promise<{ id: string; bits: number } | null> {
  if (pick.variant) {
    const v = await getVariantRecord(env, tenant, model.id, pick.variant);
    if (!v) throw notFound("variant", pick.variant);
    if (pick.bits !== undefined && pick.bits !== v.bits) {
      throw new ApiError(400, "invalid_request", `variant '${v.id}' has ${v.bits} bits, not ${pick.bits}`);
    }
    return { id: v.id, bits: v.bits };
  }
  if (pick.bits === undefined || pick.bits === 32) return null;
  // The newest variant of that bit-width serves a plain ?bits= request.
  const match = (await listVariantSummaries(env, tenant, model.id)).filter((v) => v.bits === pick.bits).pop();
  if (!match) {
    throw new ApiError(404, "not_found", `model '${model.id}' has no ${pick.bits}-bit variant; create one with POST /v1/models/${model.id}/variants`);
  }
  return { id: match.id, bits: match.bits };
}

export async function runInference(
  env: Env,
  tenant: string,
  model: ModelRecord,
  pick: ServingPick,
  inputs: Record<string, JsonTensor>,
): Promise<Served> {
  const checked = checkInputs(model.inputs, inputs);
  const variant = await resolveVariant(env, tenant, model, pick);
  const key = sessionKey(tenant, model.id, variant?.id ?? null);
  const loadStarted = performance.now();
  let session, cache;
  try {
    ({ session, cache } = await getSession(key, async () => ({
      bytes: await readBlob(env, variant ? variantBlobKey(tenant, model.id, variant.id) : modelBlobKey(tenant, model.id), "model"),
      foldWeightDequantize: variant !== null,
      fp32Bytes: model.bytes,
    })));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(422, "unsupported_model", `cannot load this model: ${(err as Error).message ?? err}`);
  }
  const loadMs = cache === "miss" ? performance.now() - loadStarted : null;
  const started = performance.now();
  let raw;
  try {
    raw = await session.run(checked);
  } catch (err) {
    throw new ApiError(400, "invalid_input", `inference failed on these inputs: ${(err as Error).message ?? err}`);
  }
  const timeMs = performance.now() - started;
  const outputs = Object.fromEntries(Object.entries(raw).map(([name, t]) => [name, outputToJson(t.type, t.dims, t.data)]));
  return {
    answer: { outputs, model: model.id, variant: variant?.id ?? null, bits: variant?.bits ?? 32, engine: session.engine, timeMs },
    timing: { cache, loadMs, runMs: timeMs },
  };
}
