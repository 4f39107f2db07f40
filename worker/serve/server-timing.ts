// The Server-Timing header of an inference answer (W3C Server Timing syntax): whether the session was cached, how
// long loading it took when this request had to wait for a load, and how long the run took, so that a client can
// tell a reload from a slow run without reading the body.
import type { SessionCacheOutcome } from "./sessions";

export interface ServingTiming {
  cache: SessionCacheOutcome;
  /** Reading, decoding and creating the session (ms); null when the session was cached. */
  loadMs: number | null;
  runMs: number;
}

/** Durations to 0.1 ms: finer digits are noise (local workerd's clock ticks in whole milliseconds). */
const ms = (v: number) => String(Math.round(v * 10) / 10);

export function serverTimingHeader(timing: ServingTiming): string {
  const metrics = [`cache;desc="${timing.cache}"`];
  if (timing.loadMs !== null) metrics.push(`load;dur=${ms(timing.loadMs)}`);
  metrics.push(`run;dur=${ms(timing.runMs)}`);
  return metrics.join(", ");
}
