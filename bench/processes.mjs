// What the benchmarks read of the workerd processes that wrangler starts under them (Linux /proc): which they are,
// when each started, and their resident memory with its peak since the last reset.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

/** The workerd processes under this one. */
export function workerdPids() {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,comm="]).toString().trim().split("\n").map((l) => l.trim().split(/\s+/));
  /** @type {Map<string, {pid: string, comm: string}[]>} */
  const children = new Map();
  for (const [pid, ppid, comm] of rows) children.set(/** @type {string} */ (ppid), [...(children.get(/** @type {string} */ (ppid)) ?? []), { pid: /** @type {string} */ (pid), comm: /** @type {string} */ (comm) }]);
  const stack = [String(process.pid)];
  const found = [];
  while (stack.length) {
    for (const c of children.get(/** @type {string} */ (stack.pop())) ?? []) {
      if (c.comm.startsWith("workerd")) found.push(c.pid);
      stack.push(c.pid);
    }
  }
  return found;
}

/** The start time (clock ticks since boot) of a process. @param {string} pid */
export function startedAt(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

/** Peak resident (since the last reset) and resident bytes of a process now. @param {string} pid */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (/** @type {string} */ key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
}

/** Resets a process's VmHWM to its current RSS (Linux, own processes). @param {string} pid */
export const resetPeak = (pid) => writeFileSync(`/proc/${pid}/clear_refs`, "5");
