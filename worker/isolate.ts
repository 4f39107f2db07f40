// Everything one isolate keeps between requests, in one place: what each piece holds, its bound, and what invalidates
// it (docs/architecture.md, "Per-isolate state"). The caches live here and their modules operate on them
// (serve/sessions.ts, serve/serving-cache.ts, traffic/config-cache.ts). State that a runtime or a module keeps for
// itself stays with its one owner (ort.ts is the only importer of onnxruntime-web, wasm/builds.ts the only loader of
// the kernels' wasm) and is listed in OWNED_STATE with its bound; test/worker/isolate.test.ts fails when a module of
// worker/ keeps state at module level that is not listed.
import { ByteBudgetLru, type LoadedSession, type PendingLoad } from "./serve/session-cache";
import { TtlMap } from "./serve/ttl-map";
import type { ExperimentConfig } from "./experiments/config";
import type { ModelRecord } from "./store/records";
import { TokenBuckets } from "./limits";

/** The session cache's budget when SESSION_CACHE_BYTES is not set. */
export const DEFAULT_SESSION_BUDGET_BYTES = 32 * 1024 * 1024;

/** An experiment's config and its model's record, as the isolate remembers them. */
export interface CachedExperiment {
  config: ExperimentConfig;
  model: ModelRecord;
}

export const isolate = {
  /**
   * Inference sessions by `tenant/model/variant` (both engines), least recently used first out.
   * Bound: SESSION_CACHE_BYTES of measured resident bytes (setSessionBudget); the session a request just used stays
   * even when alone above it. Invalidated: the model's deletion through this isolate (evictModelSessions); content
   * addressing makes a cached session never stale otherwise.
   */
  sessions: new ByteBudgetLru<LoadedSession>(DEFAULT_SESSION_BUDGET_BYTES),

  /**
   * Session loads in flight by the same key, so that concurrent misses share one load (each waiter is handed its own
   * reference to the session). Bound: one per key being loaded. Invalidated: removed when the load settles (a failed
   * load is not remembered).
   */
  sessionLoads: new Map<string, PendingLoad>(),

  /**
   * Variants being made in this isolate, by `tenant/model/canonical recipe/eval dataset`, so that identical requests
   * arriving together share one computation and one write (catalog/variants.ts makeVariant).
   * Bound: one per distinct request in flight. Invalidated: removed when the computation settles.
   */
  variantBuilds: new Map<string, Promise<unknown>>(),

  /**
   * Rate limiting where no rate-limiting binding is deployed (worker/rate-limit.ts): a token bucket per tenant
   * (`api:<tenant>`) and per client address signing in (`login:<address>`).
   * Bound: 10,000 keys, the one touched longest ago dropped first. Invalidated: buckets refill with time.
   */
  rateBuckets: new TokenBuckets(10_000),

  /**
   * What serves a request: a model's record (`tenant/model/record`) and the variant a `?variant=` or `?bits=` names
   * (`tenant/model/pick:...`), so that a warm inference reads no remote store.
   * Bound: fresh 5 s, at most 2,000 entries. Invalidated: a change made in another isolate is seen once the entry is
   * stale; this isolate's deletion of a model drops its entries at once (forgetModel).
   */
  servingRecords: new TtlMap<unknown>({ ttlMs: 5_000, maxEntries: 2_000 }),

  /**
   * Each experiment's config and its model's record by `tenant/name`.
   * Bound: fresh 5 s, at most 1,000 entries. Invalidated: sooner than 5 s by a metrics flush that reports another
   * version (noteVersion); replaced at once by changes made through this isolate (rememberConfig, forgetExperiment).
   */
  experimentConfigs: new TtlMap<CachedExperiment>({ ttlMs: 5_000, maxEntries: 1_000 }),
};

/** State a module keeps for itself at module level, listed with its bound and invalidation. */
export interface OwnedState {
  readonly owner: string;
  readonly holds: string;
  readonly bound: string;
  readonly invalidation: string;
}

export const OWNED_STATE = {
  ortRuntime: {
    owner: "worker/serve/ort.ts",
    holds: "onnxruntime-web's configuration, its one wasm heap shared by all its sessions, the heap's size when " +
      "instantiated, and the queue that creates sessions one at a time (each one's heap growth is its own)",
    bound: "the heap grows to what live sessions need and never shrinks; the session cache bounds what it holds",
    invalidation: "none: it lives as long as the isolate",
  },
  kernelBuild: {
    owner: "worker/serve/wasm/builds.ts",
    holds: "which compiled kernels build (relaxed SIMD or SIMD128) this runtime runs",
    bound: "one module reference; each kernel session instantiates its own memory, counted by the session cache",
    invalidation: "none: chosen once per isolate",
  },
  compressionKernels: {
    owner: "worker/compress/simd-quantize.ts",
    holds: "the kernels module compression was handed, and one scratch instance it quantizes in",
    bound: "the scratch is kept after a call only while its memory is at most 4 MB",
    invalidation: "handing another module (or none) drops the scratch",
  },
  halfFloats: {
    owner: "worker/onnx/encoding.ts",
    holds: "every float16 bit pattern as float32, built on first use",
    bound: "256 KB",
    invalidation: "none: it is constant",
  },
  tokenTable: {
    owner: "worker/auth.ts",
    holds: "the bearer-token table parsed from TOKENS",
    bound: "one table",
    invalidation: "parsed again when TOKENS differs from the spec it was parsed from",
  },
  pagePolicy: {
    owner: "worker/dashboard/security-headers.ts",
    holds: "the HTML pages' Content-Security-Policy, with the job page script's SHA-256, computed on first use",
    bound: "one string",
    invalidation: "none: the script is part of the bundle",
  },
  metricBatches: {
    owner: "worker/traffic/recorder.ts",
    holds: "each experiment's open batch of metric events, waiting for its flush",
    bound: "one open batch per experiment, at most MAX_BATCH events; a full batch is closed",
    invalidation: "closed when its flush starts (FLUSH_DELAY_MS after its first event) or when full",
  },
} as const satisfies Record<string, OwnedState>;
