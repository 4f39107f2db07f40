// Inference: resolve which model or variant serves the request, check the inputs, run the cached session.
import { DomainError, notFound } from "../domain-error";
import type { ModelRecord, VariantRecord } from "../catalog/records";
import { checkInputs, checkOutputSizes, outputToJson, type InputTensor, type JsonTensor } from "../serve/inputs";
import { runArenaBudget } from "../onnx/limits";
import { remembered } from "../serve/serving-cache";
import type { ServingTiming } from "../serve/server-timing";
import { getSession, RANGED_LOAD_BYTES, remeasureSession, sessionKey } from "../serve/sessions";
import type { TenantStore } from "../store/tenant";
import type { NodeTiming } from "../serve/engine";

export interface ServingPick {
  variant?: string;
  bits?: number;
  /** Time each node of the run (the kernel engine's per-node profile). */
  profile?: boolean;
}

export interface InferenceAnswer {
  outputs: Record<string, JsonTensor>;
  model: string;
  variant: string | null;
  bits: number;
  engine: string;
  timeMs: number;
  /** Per-node milliseconds, when asked for: null where the engine (onnxruntime-web) does not time nodes. */
  profile?: NodeTiming[] | null;
}

/** The answer, and how it was served (the Server-Timing header; the body's shape stays as it was). */
export interface Served {
  answer: InferenceAnswer;
  timing: ServingTiming;
}

/** The variant a pick names (null: the original), remembered by the serving cache; a pick of none is a 404. */
export function resolveVariant(store: TenantStore, model: ModelRecord, pick: ServingPick) {
  const key = `${store.tenant}/${model.id}/pick:${pick.variant ?? ""}:${pick.bits ?? ""}`;
  return remembered(key, () => lookUpVariant(store, model, pick));
}

async function lookUpVariant(store: TenantStore, model: ModelRecord, pick: ServingPick): Promise<{ id: string; bits: number; bytes: number } | null> {
  if (pick.variant) {
    const v = await store.getVariant<VariantRecord>(model.id, pick.variant);
    if (!v) throw notFound("variant", pick.variant);
    if (pick.bits !== undefined && pick.bits !== v.bits) {
      throw new DomainError("invalid_request", `variant '${v.id}' has ${v.bits} bits, not ${pick.bits}`);
    }
    await requireServable(store, model, v, `variant '${v.id}'`);
    return { id: v.id, bits: v.bits, bytes: v.bytes };
  }
  if (pick.bits === undefined || pick.bits === 32) {
    await requireServable(store, model, { bytes: model.bytes }, `model '${model.id}'`);
    return null;
  }
  const widths = (await store.listVariantSummaries(model.id)).filter((v) => v.bits === pick.bits);
  if (widths.length === 0) {
    throw new DomainError("not_found", `model '${model.id}' has no ${pick.bits}-bit variant; create one with POST /v1/models/${model.id}/variants`);
  }
  const records = await Promise.all(widths.map(async (v) => (await store.getVariant<VariantRecord>(model.id, v.id)) ?? v));
  const match = preferredOfWidth(records, store.wholeModelBytes);
  await requireServable(store, model, match, `variant '${match.id}'`);
  return { id: match.id, bits: match.bits, bytes: match.bytes };
}

/** What decides whether the Worker serves a model or variant: its size, and its record's notServed. */
type ServingSize = { bytes: number; notServed?: string };

const servesHere = (v: ServingSize, wholeModelBytes: number) => v.bytes <= wholeModelBytes && !v.notServed;

/**
 * Which of a model's variants of one bit-width a plain ?bits= request serves (variants oldest first): one the Worker
 * serves before one it does not (too large, or notServed), then one on the kernel engine before one on
 * onnxruntime-web, then a weight-only one before a dynamic or static one (on the engine a static variant's activation
 * quantize steps make it slower, and a dynamic one runs as the weight-only form), then the newest.
 */
function preferredOfWidth<V extends ServingSize & { engine?: string; recipe?: unknown }>(variants: readonly V[], wholeModelBytes: number): V {
  const rank = (v: V) => (servesHere(v, wholeModelBytes) ? 4 : 0) + (v.engine === "kernels" ? 2 : 0) + (schemeOf(v.recipe) === "weight-only" ? 1 : 0);
  let best = variants[variants.length - 1]!;
  for (let i = variants.length - 1; i >= 0; i--) if (rank(variants[i]!) > rank(best)) best = variants[i]!;
  return best;
}

/** The quantization scheme a stored recipe names ("weight-only" where it quantizes without naming one, or does not quantize). */
function schemeOf(recipe: unknown): string {
  const quantize = (recipe as { quantize?: { scheme?: unknown } } | undefined)?.quantize;
  return typeof quantize?.scheme === "string" ? quantize.scheme : "weight-only";
}

/**
 * The Worker serves models and variants up to the store's bound (an FP32 model is read whole; a big variant loads by
 * range, about its size in kernel memory), and no variant its record says it does not serve (notServed: a big model's
 * variant that only onnxruntime-web runs). One it does not serve is refused with too_large_to_serve (422), naming the
 * smallest of the model's variants that it serves, if any.
 */
async function requireServable(store: TenantStore, model: ModelRecord, served: ServingSize, what: string): Promise<void> {
  if (servesHere(served, store.wholeModelBytes)) return;
  let fits: { id: string; bits: number; bytes: number } | undefined;
  for (const v of (await store.listVariantSummaries(model.id)).filter((s) => s.bytes <= store.wholeModelBytes).sort((a, b) => a.bytes - b.bytes)) {
    if ((await store.getVariant<VariantRecord>(model.id, v.id))?.notServed) continue;
    fits = v;
    break;
  }
  const instead = fits
    ? `variant '${fits.id}' (${fits.bits} bits, ${fits.bytes} bytes) is the smallest that serves`
    : `make a narrower variant with POST /v1/models/${model.id}/variants (int4 takes about an eighth of FP32)`;
  if (served.notServed) throw new DomainError("too_large_to_serve", `${what} is not served: ${served.notServed}; ${instead}`);
  throw new DomainError("too_large_to_serve", `${what} is ${served.bytes} bytes; the Worker serves models and variants of at most ${store.wholeModelBytes} bytes (MAX_WHOLE_MODEL_BYTES): ${instead}`);
}

export async function runInference(
  store: TenantStore,
  model: ModelRecord,
  pick: ServingPick,
  inputs: Record<string, InputTensor>,
): Promise<Served> {
  const validateStarted = performance.now();
  const checked = checkInputs(model.inputs, inputs);
  const resolveStarted = performance.now();
  const variant = await resolveVariant(store, model, pick);
  const key = sessionKey(store.tenant, model.id, variant?.id ?? null);
  const loadStarted = performance.now();
  let session, cache;
  try {
    ({ session, cache } = await getSession(key, async () =>
      // A big variant is read by range as the engine packs it, never whole (sessions.ts).
      variant && variant.bytes > RANGED_LOAD_BYTES
        ? { ranged: await store.variantSource(model.id, variant.id), fp32Bytes: model.bytes }
        : {
            bytes: await (variant ? store.readVariantBytes(model.id, variant.id, "model") : store.readModelBytes(model.id)),
            foldWeightDequantize: variant !== null,
            fp32Bytes: model.bytes,
          },
    ));
  } catch (err) {
    // Missing bytes are as they are; anything the runtime cannot load is an unsupported model.
    if (err instanceof DomainError && err.code === "not_found") throw err;
    throw new DomainError("unsupported_model", `cannot load this model: ${(err as Error).message ?? err}`);
  }
  const loadMs = cache === "miss" ? performance.now() - loadStarted : null;
  const started = performance.now();
  let raw;
  const profile: NodeTiming[] | undefined = pick.profile ? [] : undefined;
  try {
    // The inputs are already held (as received and as read): the run's arena gets what the request has left.
    const inputBytes = Object.values(checked).reduce((n, t) => n + t.data.byteLength, 0);
    raw = await session.run(checked, { profile, arenaBudget: runArenaBudget(inputBytes) });
  } catch (err) {
    // A bound the run hit (the output budget) keeps its own code and message.
    if (err instanceof DomainError) throw err;
    throw new DomainError("invalid_input", `inference failed on these inputs: ${(err as Error).message ?? err}`);
  } finally {
    remeasureSession(key);
    // The reference getSession took for this request: an eviction meanwhile frees the session only now.
    await session.release();
  }
  checkOutputSizes(raw);
  const ended = performance.now();
  const timeMs = ended - started;
  const outputs = Object.fromEntries(Object.entries(raw).map(([name, t]) => [name, outputToJson(t.type, t.dims, t.data)]));
  const answer: InferenceAnswer = { outputs, model: model.id, variant: variant?.id ?? null, bits: variant?.bits ?? 32, engine: session.engine, timeMs };
  if (profile) answer.profile = session.engine === "kernels" ? profile : null;
  return {
    answer,
    timing: {
      cache,
      loadMs,
      runMs: timeMs,
      validateMs: resolveStarted - validateStarted,
      resolveMs: loadStarted - resolveStarted,
      serializeMs: performance.now() - ended,
    },
  };
}
