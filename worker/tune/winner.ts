// The winner of a target search among the candidates that met the target, by the search's objective.
import type { EvalReport } from "../evaluate/report";

/** Latencies within this fraction of the fastest count as equal: timings on a shared machine are not finer than that. */
export const LATENCY_TIE = 0.05;

/**
 * The winner among candidates that meet the target: the smallest; or, for 'fastest', the smallest of those within
 * LATENCY_TIE of the fastest measured latency (the smallest overall when no latency could be measured).
 */
export function pickBest<T extends { built: { bytes: Uint8Array }; report: Pick<EvalReport, "latencyMs"> }>(
  passing: T[],
  objective: "smallest" | "fastest",
): T | undefined {
  const bySize = [...passing].sort((a, b) => a.built.bytes.byteLength - b.built.bytes.byteLength);
  if (objective !== "fastest") return bySize[0];
  const timed = bySize.filter((t) => t.report.latencyMs.variant !== null);
  if (timed.length === 0) return bySize[0];
  const fastest = Math.min(...timed.map((t) => t.report.latencyMs.variant!));
  return timed.find((t) => t.report.latencyMs.variant! <= fastest * (1 + LATENCY_TIE));
}
