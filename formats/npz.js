// NumPy .npz archives (a zip of `NAME.npy` entries, as np.savez / np.savez_compressed write them): written stored or
// deflated, read through the central directory with a bound on the total decompressed size (the Worker reads
// uploads with it). Deflate comes from the platform's (De)CompressionStream('deflate-raw'), in Node 20 and workerd.
import { decodeNpy, NpyError } from "./npy.js";

/** @typedef {import("./npy.js").NpyArray} NpyArray @typedef {import("./npy.js").NpyDtype} NpyDtype */

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const EOCD = 0x06054b50;
const STORED = 0;
const DEFLATE = 8;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as zip requires, one table lookup per byte. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** @param {Uint8Array} bytes @returns {number} */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = /** @type {number} */ (CRC_TABLE[(c ^ /** @type {number} */ (bytes[i])) & 0xff]) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** @param {Uint8Array} bytes */
export function isZip(bytes) {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Zip's limits without zip64 in the central directory, which an upload (64 MiB at most) never reaches. */
const MAX_ENTRY = 0xfffffffe;
/** 1980-01-01 00:00, zip's earliest date: fixed so that the same arrays give the same bytes (and dataset id). */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * @typedef {{ zip64?: boolean }} NpzLayout
 *   zip64: sizes in a zip64 extra field of each local header, as numpy's force_zip64 writes them (readers must follow it).
 * @typedef {{ name: string, content: Uint8Array, body: Uint8Array, method: number }} ZipEntry
 */

/** @param {Record<string, Uint8Array>} arrays @returns {[string, Uint8Array][]} */
function namedEntries(arrays) {
  const entries = Object.entries(arrays);
  for (const [name] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,200}$/.test(name)) throw new RangeError(`array name '${name}' must be letters, digits, '_', '.' or '-'`);
  }
  return entries;
}

/**
 * The zip of the given entries, in the order given.
 * @param {ZipEntry[]} entries @param {NpzLayout} layout @returns {Uint8Array}
 */
function writeZip(entries, layout) {
  const encoder = new TextEncoder();
  /** @type {Uint8Array[]} */
  const parts = [];
  /** @type {Uint8Array[]} */
  const central = [];
  let offset = 0;
  for (const { name, content, body, method } of entries) {
    if (content.byteLength > MAX_ENTRY || body.byteLength > MAX_ENTRY || offset > MAX_ENTRY) throw new RangeError("archive too large for a zip without zip64");
    const file = encoder.encode(`${name}.npy`);
    const crc = crc32(content);
    const version = layout.zip64 ? 45 : 20;
    const extra = layout.zip64 ? 20 : 0;
    const local = new Uint8Array(30 + file.length + extra);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, version, true); // version needed: 2.0, 4.5 with zip64
    lv.setUint16(8, method, true);
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, layout.zip64 ? 0xffffffff : body.byteLength, true);
    lv.setUint32(22, layout.zip64 ? 0xffffffff : content.byteLength, true);
    lv.setUint16(26, file.length, true);
    lv.setUint16(28, extra, true);
    local.set(file, 30);
    if (layout.zip64) {
      lv.setUint16(30 + file.length, 0x0001, true); // zip64 extended information: size, then compressed size
      lv.setUint16(32 + file.length, 16, true);
      lv.setBigUint64(34 + file.length, BigInt(content.byteLength), true);
      lv.setBigUint64(42 + file.length, BigInt(body.byteLength), true);
    }
    const entry = new Uint8Array(46 + file.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, version, true); // made by
    cv.setUint16(6, version, true);
    cv.setUint16(10, method, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.byteLength, true);
    cv.setUint32(24, content.byteLength, true);
    cv.setUint16(28, file.length, true);
    cv.setUint32(42, offset, true);
    entry.set(file, 46);
    parts.push(local, body);
    central.push(entry);
    offset += local.length + body.byteLength;
  }
  const directorySize = central.reduce((a, e) => a + e.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, directorySize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + directorySize + end.length);
  let p = 0;
  for (const part of [...parts, ...central, end]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * A stored (uncompressed) .npz of the given .npy files, in the order given, as np.savez writes it.
 * @param {Record<string, Uint8Array>} arrays name (without `.npy`) -> .npy bytes
 * @param {NpzLayout} [layout]
 * @returns {Uint8Array}
 */
export function encodeNpz(arrays, layout = {}) {
  return writeZip(namedEntries(arrays).map(([name, npy]) => ({ name, content: npy, body: npy, method: STORED })), layout);
}

/** @param {Uint8Array} bytes @returns {Promise<Uint8Array>} */
async function deflateRaw(bytes) {
  const stream = new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A deflated .npz of the given .npy files, in the order given, as np.savez_compressed writes it.
 * @param {Record<string, Uint8Array>} arrays name (without `.npy`) -> .npy bytes
 * @param {NpzLayout} [layout]
 * @returns {Promise<Uint8Array>}
 */
export async function encodeNpzDeflated(arrays, layout = {}) {
  const entries = await Promise.all(
    namedEntries(arrays).map(async ([name, npy]) => ({ name, content: npy, body: await deflateRaw(npy), method: DEFLATE })),
  );
  return writeZip(entries, layout);
}

/** @typedef {{ name: string, method: number, compressedSize: number, size: number, localOffset: number }} CentralEntry */

/** @param {string} problem @returns {NpyError} */
const invalid = (problem) => new NpyError(`not a valid .npz: ${problem}`);

/**
 * Central directory entries; zip64 sizes (numpy forces zip64 in local headers) are read from the extra field.
 * Every read is bounds-checked: a hostile archive must fail with a message, never an out-of-range read.
 * @param {Uint8Array} bytes @returns {CentralEntry[]}
 */
function readEntries(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.byteLength - 22; i >= Math.max(0, bytes.byteLength - 22 - 65535); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw invalid("zip end of central directory not found");
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  /** @type {CentralEntry[]} */
  const entries = [];
  const names = new Set();
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.byteLength || view.getUint32(p, true) !== CENTRAL) throw invalid("bad central directory");
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const extraEnd = p + 46 + nameLen + extraLen;
    if (extraEnd + commentLen > bytes.byteLength) throw invalid(`central directory entry ${n} runs past the directory`);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    if (names.has(name)) throw invalid(`entry '${name}' appears twice`);
    names.add(name);
    // zip64 extended information: the fields that overflowed, in order size, compressed size, offset.
    for (let e = p + 46 + nameLen; e < extraEnd; ) {
      if (e + 4 > extraEnd) throw invalid(`entry '${name}' has a truncated extra field`);
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      const fieldEnd = e + 4 + len;
      if (fieldEnd > extraEnd) throw invalid(`entry '${name}' has a truncated extra field`);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => {
          if (q + 8 > fieldEnd) throw invalid(`entry '${name}' has a truncated zip64 extra field`);
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e = fieldEnd;
    }
    entries.push({ name, method, compressedSize, size, localOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

/**
 * The inflated bytes, collected as they arrive (nothing is allocated from the declared size) and cut off as soon as
 * they pass `expected` or `budget`, so a deflate bomb costs at most the budget.
 * @param {Uint8Array} data @param {number} expected @param {number} budget @param {string} label
 * @returns {Promise<Uint8Array>}
 */
async function inflateRaw(data, expected, budget, label) {
  const stream = new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (data)]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  /** @type {Uint8Array[]} */
  const chunks = [];
  let used = 0;
  const reader = stream.getReader();
  for (;;) {
    // Corrupt or truncated deflate data fails the stream (a TypeError in workerd, a zlib Error in Node): a parse error.
    const { done, value } = await reader.read().catch((/** @type {Error} */ err) => {
      throw invalid(`entry '${label}' is not valid deflate data (${err.message})`);
    });
    if (done) break;
    used += value.byteLength;
    if (used > budget || used > expected) {
      await reader.cancel();
      if (used > budget) throw new NpyError(`.npz entry '${label}' inflates past the limit of decompressed bytes`);
      throw invalid(`entry '${label}' inflates beyond its declared size`);
    }
    chunks.push(value);
  }
  if (used !== expected) throw invalid(`entry '${label}' inflates to less than its declared size`);
  const out = new Uint8Array(used);
  let p = 0;
  for (const chunk of chunks) {
    out.set(chunk, p);
    p += chunk.byteLength;
  }
  return out;
}

/**
 * Every array in the archive, keyed by name without `.npy`; at most `maxBytes` decompressed in all, counted by what
 * each entry really holds (declared sizes only give an early refusal). Each entry must have its own local header and
 * data, not shared with or overlapping another's. `dtypes` narrows the element types accepted, as for decodeNpy.
 * @param {Uint8Array} bytes
 * @param {{ maxBytes: number, dtypes?: readonly NpyDtype[] }} options
 * @returns {Promise<Map<string, NpyArray>>}
 */
export async function decodeNpz(bytes, options) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = readEntries(bytes);
  const declared = entries.reduce((a, e) => a + e.size, 0);
  if (declared > options.maxBytes) throw new NpyError(`.npz arrays hold ${declared} bytes decompressed, over the limit of ${options.maxBytes}`);
  /** @type {[number, number, string][]} each entry's span, local header through data */
  const spans = [];
  for (const e of entries) {
    const h = e.localOffset;
    if (h + 30 > bytes.byteLength || view.getUint32(h, true) !== LOCAL) throw new NpyError(`.npz entry '${e.name}': bad local header`);
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    if (start + e.compressedSize > bytes.byteLength) throw new NpyError(`.npz entry '${e.name}' is truncated`);
    spans.push([h, start + e.compressedSize, e.name]);
  }
  // Two central entries sharing (or overlapping) one local entry would count the same bytes twice.
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevStart, prevEnd, prevName] = /** @type {[number, number, string]} */ (spans[i - 1]);
    const [start, , name] = /** @type {[number, number, string]} */ (spans[i]);
    if (start < prevEnd) throw invalid(`entries '${prevName}' and '${name}' ${start === prevStart ? "share one" : "overlap in their"} local entry`);
  }
  /** @type {Map<string, NpyArray>} */
  const arrays = new Map();
  let used = 0;
  for (const e of entries) {
    if (!e.name.endsWith(".npy")) throw new NpyError(`.npz entry '${e.name}' is not a .npy array`);
    const name = e.name.slice(0, -4);
    const h = e.localOffset;
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    const raw = bytes.subarray(start, start + e.compressedSize);
    let content;
    if (e.method === STORED) {
      if (e.size !== e.compressedSize) throw invalid(`stored entry '${e.name}' declares ${e.size} bytes but holds ${e.compressedSize}`);
      content = raw;
    } else if (e.method === DEFLATE) content = await inflateRaw(raw, e.size, options.maxBytes - used, e.name);
    else throw new NpyError(`.npz entry '${e.name}' uses zip method ${e.method}; only stored and deflate are supported`);
    used += content.byteLength;
    if (used > options.maxBytes) throw new NpyError(`.npz arrays hold more than ${options.maxBytes} bytes decompressed, over the limit`);
    arrays.set(name, decodeNpy(content, { label: `array '${name}'`, dtypes: options.dtypes }));
  }
  return arrays;
}
