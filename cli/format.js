// Terminal output of the CLI: aligned tables, the job progress line, evaluation lines (recipes and byte sizes are
// put in words by formats/words.js, as the dashboard does).

/** @param {unknown} v @param {number} [digits] */
export const fixed = (v, digits = 2) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "—");

/**
 * Columns padded to their widest cell; numeric columns (named in `right`) aligned right.
 * @param {string[]} headers @param {string[][]} rows @param {Set<number>} [right]
 */
export function formatTable(headers, rows, right = new Set()) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/**
 * `[##########----------]  50% calibrate` for a job; progress is a fraction in [0, 1].
 * @param {{ status: string, stage?: string, progress?: number }} job @param {number} [width]
 */
export function progressLine(job, width = 30) {
  const p = Math.min(1, Math.max(0, typeof job.progress === "number" ? job.progress : job.status === "running" ? 0 : 1));
  const filled = Math.round(p * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(p * 100)).padStart(3)}% ${job.stage ?? job.status}`;
}

/** @param {number} fraction @param {number} [digits] */
const percent = (fraction, digits = 2) => `${(fraction * 100).toFixed(digits)}%`;

/**
 * One line of an evaluation report: accuracy (FP32 -> variant, drop in points) when labelled, agreement, cosine of
 * the first output, median batch-1 latency of both, the engine.
 * @param {{ samples: number, accuracy: { fp32: number, variant: number, drop: number } | null, agreement: number, outputs?: { cosine: number }[], latencyMs?: { fp32: number | null, variant: number | null }, engine?: string }} report
 */
export function evalLine(report) {
  const parts = [];
  if (report.accuracy) {
    const { fp32, variant, drop } = report.accuracy;
    parts.push(`accuracy ${percent(fp32)} -> ${percent(variant)} (${drop <= 0 ? "+" : "-"}${Math.abs(drop).toFixed(2)} pp)`);
  }
  parts.push(`agreement ${percent(report.agreement)}`);
  const cosine = report.outputs?.[0]?.cosine;
  if (typeof cosine === "number") parts.push(`cosine ${cosine.toFixed(6)}`);
  const ms = report.latencyMs;
  if (ms && ms.variant !== null && ms.variant > 0) parts.push(`latency ${ms.fp32 !== null && ms.fp32 > 0 ? fixed(ms.fp32, 3) : "—"} -> ${fixed(ms.variant, 3)} ms`);
  if (report.engine) parts.push(report.engine);
  return `${parts.join(", ")} on ${report.samples} samples`;
}

/**
 * A variant's evaluation as the CLI's table cells: accuracy change in points (signed), agreement, variant latency.
 * @param {{ accuracy: { drop: number } | null, agreement: number, latencyMs?: { variant: number | null } } | undefined} report
 * @returns {[string, string, string]}
 */
export function evalCells(report) {
  if (!report) return ["—", "—", "—"];
  const delta = report.accuracy ? -report.accuracy.drop : null;
  const latency = report.latencyMs && report.latencyMs.variant !== null && report.latencyMs.variant > 0 ? `${fixed(report.latencyMs.variant, 3)} ms` : "—";
  return [delta === null ? "—" : `${delta >= 0 ? "+" : ""}${delta.toFixed(2)} pp`, percent(report.agreement), latency];
}

/**
 * A variant's pruning warnings (layers capped or at their cap, layers whose output moved most), one line each.
 * @param {{ prune?: { [key: string]: unknown } }} variant
 */
export function warningLines(variant) {
  const warnings = variant.prune?.warnings;
  return Array.isArray(warnings) ? warnings.filter((w) => typeof w === "string").map((w) => `  warning: ${w}`) : [];
}
