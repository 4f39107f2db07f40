// Terminal output of the CLI: aligned tables, byte sizes, the job progress line.

/** @param {number} n */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) [v, u] = [v / 1024, u + 1];
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

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
