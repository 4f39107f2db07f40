// The Server-Timing header of an inference answer (W3C Server Timing syntax): whether the session was cached, and
// where the request's time went: parsing and validating the body, resolving the variant, loading the session (when
// this request had to wait for a load), running it, serializing the answer, and the total since the request arrived.
import type { SessionCacheOutcome } from "./sessions";

export interface ServingTiming {
  cache: SessionCacheOutcome;
  /** Reading, decoding and creating the session (ms); null when the session was cached. */
  loadMs: number | null;
  runMs: number;
  /** Checking the inputs against the model's signature. */
  validateMs?: number;
  /** Finding the variant (and model record) that serves the request. */
  resolveMs?: number;
  /** Turning the outputs into JSON-ready values (the route adds writing the body). */
  serializeMs?: number;
}

/** What the route measures around the serving: the body parsed (by the framework) and the answer written. */
export interface RouteTiming {
  parseMs: number;
  serializeMs: number;
  totalMs: number;
}

/** Durations to 0.1 ms: finer digits are noise (local workerd's clock ticks in whole milliseconds). */
const ms = (v: number) => String(Math.round(v * 10) / 10);

export function serverTimingHeader(timing: ServingTiming, route?: RouteTiming): string {
  const metrics = [`cache;desc="${timing.cache}"`];
  if (route) metrics.push(`parse;dur=${ms(route.parseMs)}`);
  if (timing.validateMs !== undefined) metrics.push(`validate;dur=${ms(timing.validateMs)}`);
  if (timing.resolveMs !== undefined) metrics.push(`resolve;dur=${ms(timing.resolveMs)}`);
  if (timing.loadMs !== null) metrics.push(`load;dur=${ms(timing.loadMs)}`);
  metrics.push(`run;dur=${ms(timing.runMs)}`);
  if (route) metrics.push(`serialize;dur=${ms((timing.serializeMs ?? 0) + route.serializeMs)}`, `total;dur=${ms(route.totalMs)}`);
  return metrics.join(", ");
}

/**
 * Writes the answer (`write` serializes it, e.g. c.json) and sets its Server-Timing header, timing the write itself:
 * `received` is when the request arrived (the first middleware's mark), `handlerStarted` when the route began (after
 * the framework parsed and checked the body).
 */
export function timedAnswer<R extends Response>(write: () => R, timing: ServingTiming, marks: { received: number; handlerStarted: number }): R {
  const started = performance.now();
  const res = write();
  const done = performance.now();
  const route = { parseMs: marks.handlerStarted - marks.received, serializeMs: done - started, totalMs: done - marks.received };
  res.headers.set("Server-Timing", serverTimingHeader(timing, route));
  return res;
}
