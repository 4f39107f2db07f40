// The API's values in words, the same in every face: a recipe ("prune 50% 2:4 + int8 dynamic", or "p50% int8" as a
// chart label) and a byte size. Shared by the CLI and the dashboard; plain ESM with JSDoc types.

/** @typedef {Record<string, unknown>} Json */

/** @param {unknown} v @returns {Json} */
const obj = (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? /** @type {Json} */ (v) : {});
/** @param {unknown} v @returns {number | null} */
const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * A size in binary units with one decimal: "512 B", "1.5 KiB", "5.0 MiB".
 * @param {number} n
 */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) [v, u] = [v / 1024, u + 1];
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A weight bit-width as users name it: fp16, int8, int4, ternary (2 bits), binary (1 bit).
 * @param {unknown} bits
 */
export function widthName(bits) {
  return bits === 16 ? "fp16" : bits === 2 ? "ternary" : bits === 1 ? "binary" : `int${String(bits ?? "?")}`;
}

/**
 * A shared-value recipe's name ("4-bit codebook", "4-bit codebook per channel", "pq 8x256"), or null for a
 * uniform one.
 * @param {Json} q @returns {string | null}
 */
function sharedName(q) {
  if (q.codebook) {
    const c = obj(q.codebook);
    return `${String(c.bits ?? "?")}-bit codebook${c.scope === "per-channel" ? " per channel" : ""}`;
  }
  if (q.pq) {
    const p = obj(q.pq);
    return `pq ${String(p.subvector ?? 8)}x${String(p.centroids ?? 256)}`;
  }
  return null;
}

/**
 * The granularity when it is not the width's default (per channel; blocks of 32 for 4 and 2 bits).
 * @param {Json} q @returns {string | undefined}
 */
function granularityWords(q) {
  const g = q.granularity;
  const blockedByDefault = q.bits === 4 || q.bits === 2;
  if (typeof g === "string") return g === "per-channel" && !blockedByDefault ? undefined : g;
  const block = finite(obj(g).block);
  return block !== null && block !== (blockedByDefault ? 32 : undefined) ? `block ${block}` : undefined;
}

/** @param {Json} prune */
function pruneStructureWords(prune) {
  const s = prune.structure;
  if (s === "channel") return "channel";
  if (typeof s !== "object" || s === null) return undefined;
  const nm = /** @type {{ n?: unknown, m?: unknown }} */ (s);
  return "n" in nm ? `${nm.n}:${nm.m}` : "block";
}

/**
 * A recipe in a few words: "int8 weight-only", "int8 static block 64", "prune 50% 2:4 + int8 dynamic", "int4 weight-only gptq",
 * "int4 weight-only mse scales",
 * "int2 weight-only gptq bias-corrected", "int4 weight-only adaround",
 * "int8 weight-only (2 layers overridden)". A missing scheme is the API's default, weight-only; a granularity, zero
 * points or a prune structure are named only where they are not the default.
 * @param {unknown} recipe
 */
export function recipeWords(recipe) {
  const r = obj(recipe);
  /** @type {string[]} */
  const parts = [];
  if (r.prune) {
    const prune = obj(r.prune);
    const sparsity = finite(prune.sparsity);
    parts.push(["prune", sparsity !== null ? `${Math.round(sparsity * 100)}%` : undefined, pruneStructureWords(prune)].filter(Boolean).join(" "));
  }
  if (r.quantize) {
    const q = obj(r.quantize);
    const overridden = Object.keys(obj(q.overrides)).length;
    const scheme = typeof q.scheme === "string" ? q.scheme : "weight-only";
    const rounding = roundingName(q);
    const shared = sharedName(q);
    const calibrated = shared && q.calibration ? "calibrated" : undefined;
    const words = shared
      ? [shared, calibrated].filter(Boolean).join(" ")
      : [widthName(q.bits), scheme, granularityWords(q), q.symmetric === false ? "zero points" : undefined, q.scale === "mse" ? "mse scales" : undefined, rounding, q.smooth ? "smoothed" : undefined, q.biasCorrection === true ? "bias-corrected" : undefined]
          .filter(Boolean)
          .join(" ");
    parts.push(`${words}${overridden ? ` (${overridden} layer${overridden === 1 ? "" : "s"} overridden)` : ""}`);
  }
  // A recipe of another kind (a trained variant's) is shown as it is rather than hidden.
  return parts.length ? parts.join(" + ") : Object.keys(r).length ? JSON.stringify(r) : "—";
}

/**
 * The compensated rounding a quantize recipe names ("gptq", "adaround"), or undefined for nearest.
 * @param {Record<string, unknown>} q
 */
function roundingName(q) {
  const method = obj(q.rounding).method;
  return method === "gptq" || method === "adaround" ? method : undefined;
}

/**
 * A recipe as a chart label: "int8", "int8 static", "p30% int8".
 * @param {unknown} recipe
 */
export function recipeLabel(recipe) {
  const r = obj(recipe);
  /** @type {string[]} */
  const parts = [];
  if (r.prune) {
    const sparsity = finite(obj(r.prune).sparsity);
    parts.push(sparsity !== null ? `p${Math.round(sparsity * 100)}%` : "pruned");
  }
  if (r.quantize) {
    const q = obj(r.quantize);
    const rounding = roundingName(q) ? ` ${roundingName(q)}` : "";
    const corrected = q.biasCorrection === true ? " bc" : "";
    const clipped = q.scale === "mse" ? " mse" : "";
    const shared = sharedName(q);
    parts.push(shared ?? `${widthName(q.bits)}${typeof q.scheme === "string" && q.scheme !== "weight-only" ? ` ${q.scheme}` : ""}${clipped}${rounding}${corrected}`);
  }
  return parts.join(" ") || "variant";
}
