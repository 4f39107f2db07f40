// Non-finite numbers in JSON tensors: JSON has no NaN or Infinity (JSON.stringify writes null, which reads back as
// a different value), so inference outputs carry them as the strings "NaN", "Infinity" and "-Infinity". The Worker
// encodes its answers with this module and the client decodes them, so a NaN output arrives as NaN.

/** @typedef {"NaN" | "Infinity" | "-Infinity"} NonFiniteToken */
/** @typedef {{ type: string, dims: number[], data: (number | boolean)[] }} NumericTensor */
/** @typedef {{ type: string, dims: number[], data: (number | boolean | NonFiniteToken)[] }} EncodedTensor */

/** @type {readonly NonFiniteToken[]} */
export const NON_FINITE_TOKENS = ["NaN", "Infinity", "-Infinity"];

/** @param {number | boolean} v @returns {number | boolean | NonFiniteToken} */
export function encodeJsonNumber(v) {
  if (typeof v !== "number" || Number.isFinite(v)) return v;
  return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

/** @param {number | boolean | string} v @returns {number | boolean} */
export function decodeJsonNumber(v) {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  if (typeof v === "string") throw new TypeError(`'${v}' is not a number or one of ${NON_FINITE_TOKENS.join(", ")}`);
  return v;
}

/**
 * Outputs as JSON-ready tensors. A tensor whose values are all finite (the usual case) is passed on as it is, not
 * copied: an answer of 1M elements would otherwise hold its values twice while it is serialized.
 * @param {Record<string, NumericTensor>} outputs @returns {Record<string, EncodedTensor>}
 */
export function encodeTensors(outputs) {
  return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, allFinite(t.data) ? t : { ...t, data: t.data.map(encodeJsonNumber) }]));
}

/** @param {(number | boolean)[]} data */
function allFinite(data) {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v === "number" && !Number.isFinite(v)) return false;
  }
  return true;
}

/** @param {Record<string, EncodedTensor>} outputs @returns {Record<string, NumericTensor>} */
export function decodeTensors(outputs) {
  return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, { ...t, data: t.data.map(decodeJsonNumber) }]));
}
