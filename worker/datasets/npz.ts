// The .npz format (a zip of .npy files, as np.savez / np.savez_compressed write it): reads the central directory
// and inflates stored or deflated entries, with a bound on the total decompressed size.
import { DatasetFormatError, parseNpy, type NpyArray } from "./npy";

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Central directory entries; zip64 sizes (numpy forces zip64 in local headers) are read from the extra field. */
function readEntries(bytes: Uint8Array): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.byteLength - 22; i >= Math.max(0, bytes.byteLength - 22 - 65535); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new DatasetFormatError("not a valid .npz: zip end of central directory not found");
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const entries: Entry[] = [];
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.byteLength || view.getUint32(p, true) !== CENTRAL) throw new DatasetFormatError("not a valid .npz: bad central directory");
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the fields that overflowed, in order size, compressed size, offset.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => {
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

async function inflateRaw(data: Uint8Array, expected: number): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const out = new Uint8Array(expected);
  let used = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (used + value.byteLength > expected) {
      await reader.cancel();
      throw new DatasetFormatError("not a valid .npz: an entry inflates beyond its declared size");
    }
    out.set(value, used);
    used += value.byteLength;
  }
  if (used !== expected) throw new DatasetFormatError("not a valid .npz: an entry inflates to less than its declared size");
  return out;
}

/** Every array in the archive, keyed by name without `.npy`; at most `maxBytes` decompressed in all. */
export async function parseNpz(bytes: Uint8Array, maxBytes: number): Promise<Map<string, NpyArray>> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = readEntries(bytes);
  const total = entries.reduce((a, e) => a + e.size, 0);
  if (total > maxBytes) throw new DatasetFormatError(`.npz arrays hold ${total} bytes decompressed, over the limit of ${maxBytes}`);
  const arrays = new Map<string, NpyArray>();
  for (const e of entries) {
    if (!e.name.endsWith(".npy")) throw new DatasetFormatError(`.npz entry '${e.name}' is not a .npy array`);
    const name = e.name.slice(0, -4);
    const h = e.localOffset;
    if (h + 30 > bytes.byteLength || view.getUint32(h, true) !== LOCAL) throw new DatasetFormatError(`.npz entry '${e.name}': bad local header`);
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    const raw = bytes.subarray(start, start + e.compressedSize);
    if (raw.byteLength !== e.compressedSize) throw new DatasetFormatError(`.npz entry '${e.name}' is truncated`);
    let content: Uint8Array;
    if (e.method === 0) content = raw;
    else if (e.method === 8) content = await inflateRaw(raw, e.size);
    else throw new DatasetFormatError(`.npz entry '${e.name}' uses zip method ${e.method}; only stored and deflate are supported`);
    arrays.set(name, parseNpy(content, `array '${name}'`));
  }
  return arrays;
}
