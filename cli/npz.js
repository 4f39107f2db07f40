// NumPy .npz archives written from .npy files: a zip of `NAME.npy` entries stored uncompressed, as `np.savez`
// writes them (np.load reads it back), so the CLI can pack inputs and labels into one dataset upload.

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

/** Zip's limits without zip64, which an upload (64 MiB at most) never reaches. */
const MAX_ENTRY = 0xfffffffe;
/** 1980-01-01 00:00, zip's earliest date: fixed so that the same arrays give the same bytes (and dataset id). */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * A stored (uncompressed) .npz of the given .npy files, in the order given.
 * @param {Record<string, Uint8Array>} arrays name (without `.npy`) -> .npy bytes
 * @returns {Uint8Array}
 */
export function encodeNpz(arrays) {
  const encoder = new TextEncoder();
  /** @type {Uint8Array[]} */
  const parts = [];
  /** @type {Uint8Array[]} */
  const central = [];
  let offset = 0;
  for (const [name, npy] of Object.entries(arrays)) {
    if (!/^[A-Za-z0-9_.-]{1,200}$/.test(name)) throw new RangeError(`array name '${name}' must be letters, digits, '_', '.' or '-'`);
    if (npy.byteLength > MAX_ENTRY || offset > MAX_ENTRY) throw new RangeError("archive too large for a zip without zip64");
    const file = encoder.encode(`${name}.npy`);
    const crc = crc32(npy);
    const local = new Uint8Array(30 + file.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); // local file header
    lv.setUint16(4, 20, true); // version needed: 2.0
    lv.setUint16(8, 0, true); // method: stored
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, npy.byteLength, true);
    lv.setUint32(22, npy.byteLength, true);
    lv.setUint16(26, file.length, true);
    local.set(file, 30);
    const entry = new Uint8Array(46 + file.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true); // central directory header
    cv.setUint16(4, 20, true); // made by: 2.0
    cv.setUint16(6, 20, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, npy.byteLength, true);
    cv.setUint32(24, npy.byteLength, true);
    cv.setUint16(28, file.length, true);
    cv.setUint32(42, offset, true);
    entry.set(file, 46);
    parts.push(local, npy);
    central.push(entry);
    offset += local.length + npy.byteLength;
  }
  const directorySize = central.reduce((a, e) => a + e.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); // end of central directory
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
