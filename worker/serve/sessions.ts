// Per-isolate inference sessions, keyed by tenant/model/variant and budgeted by resident bytes (LRU; the cache is
// worker/isolate.ts's `sessions`).
// A warm inference touches no remote store: the session and the model's input signature live here.
// "Resident" bytes are measured, not estimated: the kernel engine's instance memory (weights plus activation arena,
// freed whole with the session); for onnxruntime-web, what the isolate's one shared heap grew by to create the session
// (at least the session's fp32 weights, which it holds in that heap). wasm memory never shrinks, so evicting an
// onnxruntime-web session frees room inside that heap for the next one, not memory of the isolate.
import { isolate } from "../isolate";
import { decodeModel } from "../onnx/codec";
import { createOrtSession, makeOrtTensor, type OrtSession, type OrtTensorType } from "./ort";
import { createKernelSession, loadKernelSession, type KernelSession } from "./engine";
import { readSkeleton, type ByteSource } from "../onnx/skeleton";
import { kernelModule } from "./wasm/builds";
import type { EngineName, LoadedSession } from "./session-cache";

export type { EngineName, LoadedSession } from "./session-cache";

// onnxruntime-web's wasm heap holds about 4x the model (measured): the estimate a variant record reports before any
// session exists. The cache counts what each session made the heap grow by instead.
export const RESIDENT_FACTOR = 4;

export const sessionKey = (tenant: string, modelId: string, variantId: string | null) =>
  `${tenant}/${modelId}/${variantId ?? "original"}`;

export function setSessionBudget(bytes: number): void {
  isolate.sessions.setBudget(bytes);
}

export function evictModelSessions(tenant: string, modelId: string): void {
  isolate.sessions.deletePrefix(`${tenant}/${modelId}/`);
}

/**
 * Measures a cached session again after a run (the kernel arena grows on a larger input and never shrinks), so the
 * cache counts that growth now and evicts older sessions to fit, rather than at the session's next request.
 */
export function remeasureSession(key: string): void {
  isolate.sessions.get(key);
}

/** Drops every session (tests that observe loads start from a cold isolate). */
export function evictAllSessions(): void {
  isolate.sessions.deletePrefix("");
}

/** What an engine gives a session: its size, its run, and how to free it. */
interface EngineSession {
  readonly engine: EngineName;
  readonly residentBytes: number;
  run: LoadedSession["run"];
  free(): Promise<void>;
}

/**
 * The one reference-counting rule of both engines (see LoadedSession.retain): the maker's reference, one per holder
 * and one per run in progress; the engine's memory is freed, once, when the last one is dropped. A run on a freed
 * session throws rather than touching freed memory.
 */
function counted(inner: EngineSession): LoadedSession {
  let refs = 1;
  let freed: Promise<void> | undefined;
  const drop = async (): Promise<void> => {
    if (refs === 0) return; // released already: a second release must not free twice
    if (--refs === 0) await (freed ??= inner.free());
  };
  const retain = () => {
    if (refs === 0) throw new Error("the session was released");
    refs++;
  };
  return {
    engine: inner.engine,
    get residentBytes() {
      return inner.residentBytes;
    },
    retain,
    async run(inputs, options) {
      retain();
      try {
        return await inner.run(inputs, options);
      } finally {
        // The answer is computed: a failed free is logged, not reported to this request.
        await drop().catch((err) => console.warn(`releasing a session failed: ${err}`));
      }
    },
    release: drop,
  };
}

function wrap(session: OrtSession, fp32Bytes: number): LoadedSession {
  return counted({
    residentBytes: Math.max(session.heapGrowthBytes, fp32Bytes),
    engine: "onnxruntime-web",
    async run(inputs) {
      const feeds = Object.fromEntries(
        Object.entries(inputs).map(([name, t]) => [name, makeOrtTensor(t.type as OrtTensorType, t.data, t.dims)]),
      );
      const out = await session.run(feeds);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type, dims: t.dims, data: t.data }]));
    },
    free: () => session.release(),
  });
}

/** The kernel engine's session, or null when it does not cover the graph (or fails to plan it: onnxruntime-web then
 * gets its chance, and its error, if any, is the one reported). */
function tryKernels(model: ReturnType<typeof decodeModel>): KernelSession | null {
  try {
    return createKernelSession(model, kernelModule()).session;
  } catch (err) {
    console.warn(`kernel engine could not plan the model, using onnxruntime-web: ${(err as Error).message}`);
    return null;
  }
}

function kernelLoaded(session: KernelSession): LoadedSession {
  return counted({
    // The instance's memory now: packed weights, then the activation arena's high-water mark once it has run.
    get residentBytes() {
      return session.residentBytes;
    },
    engine: "kernels",
    run: (inputs, options) => session.run(inputs, options),
    free: () => session.release(),
  });
}

/**
 * Which engine would serve these model bytes and how many bytes it would hold resident (what a variant record
 * reports): the kernel engine's instance memory when it covers the graph, else onnxruntime-web's ~4x the fp32 model.
 */
export function servingProfile(bytes: Uint8Array, fp32Bytes: number): { engine: EngineName; residentBytes: number; weightBytes?: number; kernels?: Record<string, string> } {
  const session = tryKernels(decodeModel(bytes));
  if (session) return { engine: "kernels", residentBytes: session.residentBytes, weightBytes: session.weightBytes, kernels: session.kernels };
  return { engine: "onnxruntime-web", residentBytes: fp32Bytes * RESIDENT_FACTOR };
}

/**
 * Loads a session on the engine that serves these bytes: our kernels wherever they cover the graph (compressed
 * weights stay compressed; FP32 originals of every family measured ran faster there too: docs/benchmarks.md), else
 * onnxruntime-web.
 */
async function loadServingSession(bytes: Uint8Array, foldWeightDequantize: boolean, fp32Bytes: number): Promise<LoadedSession> {
  const kernels = tryKernels(decodeModel(bytes));
  if (kernels) return kernelLoaded(kernels);
  return wrap(await createOrtSession(bytes, { foldWeightDequantize }), fp32Bytes);
}

/**
 * A session outside the cache (evaluation, calibration); the caller releases it. With `serving`, it runs on the
 * engine that would serve the bytes (for latency); otherwise on onnxruntime-web, which computes every output the
 * graph names (calibration and per-layer reports read intermediate tensors that the kernel engine fuses away).
 */
export async function openSession(
  bytes: Uint8Array,
  foldWeightDequantize: boolean,
  fp32Bytes: number,
  serving = false,
  layoutOptimizations = true,
): Promise<LoadedSession> {
  if (serving) return loadServingSession(bytes, foldWeightDequantize, fp32Bytes);
  return wrap(await createOrtSession(bytes, { foldWeightDequantize, layoutOptimizations }), fp32Bytes);
}

/** What a cache miss loads: the model's bytes and how (see loadServingSession), or a big variant's object to read by
 * range (see loadRangedSession). */
export type SessionSource = { bytes: Uint8Array; foldWeightDequantize: boolean; fp32Bytes: number } | { ranged: ByteSource; fp32Bytes: number };

/**
 * Variants larger than this load from ranged reads (their skeleton, then each weight as the kernel engine reaches
 * it), so a load holds the packed weights and not the variant's bytes beside them; smaller ones are read in one request.
 */
export const RANGED_LOAD_BYTES = 16 * 1024 * 1024;

/**
 * A variant's session from ranged reads: the kernel engine plans its skeleton and packs each weight as it is read,
 * releasing it once packed. Where the engine does not cover the graph, or anything in that path fails (a read-ahead
 * that fell short, a skeleton over its bound), the bytes are read whole and loaded as any other variant, whose
 * error, if any, is the one reported.
 */
async function loadRangedSession(source: ByteSource, fp32Bytes: number): Promise<LoadedSession> {
  try {
    const skeleton = decodeModel((await readSkeleton(source)).bytes);
    const loaded = await loadKernelSession(skeleton, kernelModule(), source);
    if (loaded.session) return kernelLoaded(loaded.session);
  } catch (err) {
    console.warn(`loading a variant by range failed, reading it whole: ${(err as Error).message}`);
  }
  return loadServingSession(await source.read(0, source.size), true, fp32Bytes);
}

/** Whether a request found its session cached ("hit") or waited for it to load ("miss"). */
export type SessionCacheOutcome = "hit" | "miss";

/**
 * The cached session, or loads it once (concurrent misses share one load), with a reference taken for the caller,
 * who releases it after its run: an eviction meanwhile (another request needing the room, the model's deletion)
 * then frees the session only after that release.
 */
export async function getSession(
  key: string,
  load: () => Promise<SessionSource>,
): Promise<{ session: LoadedSession; cache: SessionCacheOutcome }> {
  const hit = isolate.sessions.get(key);
  if (hit) {
    hit.retain();
    return { session: hit, cache: "hit" };
  }
  return { session: await loadOnce(key, load), cache: "miss" };
}

function loadOnce(key: string, load: () => Promise<SessionSource>): Promise<LoadedSession> {
  let pending = isolate.sessionLoads.get(key);
  if (!pending) {
    const waiting = { waiters: 0 };
    const session = (async () => {
      try {
        const source = await load();
        const loaded =
          "ranged" in source ? await loadRangedSession(source.ranged, source.fp32Bytes) : await loadServingSession(source.bytes, source.foldWeightDequantize, source.fp32Bytes);
        // The maker's reference becomes the cache's; each waiter gets one before any of them resumes, so that
        // nothing between this load landing and a waiter's run can free the session under it.
        isolate.sessions.set(key, loaded);
        for (let i = 0; i < waiting.waiters; i++) loaded.retain();
        return loaded;
      } finally {
        isolate.sessionLoads.delete(key);
      }
    })();
    pending = Object.assign(waiting, { session });
    isolate.sessionLoads.set(key, pending);
  }
  pending.waiters++;
  return pending.session;
}
