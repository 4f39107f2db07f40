// Writes .npy and .npz bytes the way numpy does (v1 header, zip with stored or deflated entries and zip64 extras
// in the local headers), so that tests can upload datasets without Python. Deflate comes from
// CompressionStream('deflate-raw'), available in Node 20 and workerd.
import { rng } from "./models";

export type NpyDescr = "<f4" | "<f8" | "<i8" | "<i4" | "|u1" | "|b1" | ">f4" | "<f2";

export function npy(descr: NpyDescr, shape: number[], data: ArrayBufferView, opts: { fortran?: boolean } = {}): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A zip of `name.npy` entries, like np.savez (stored) or np.savez_compressed (deflate). */
export async function npz(arrays: Record<string, Uint8Array>, opts: { compress?: boolean } = {}): Promise<Uint8Array> {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(arrays)) {
    const fname = new TextEncoder().encode(`${name}.npy`);
    const body = opts.compress ? await deflateRaw(content) : content;
    const crc = crc32(content);
    const method = opts.compress ? 8 : 0;
    // Local header with a zip64 extra (sizes 0xffffffff in the fixed fields), as numpy's force_zip64 writes.
    const local = new Uint8Array(30 + fname.length + 20);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, 0xffffffff, true);
    lv.setUint32(22, 0xffffffff, true);
    lv.setUint16(26, fname.length, true);
    lv.setUint16(28, 20, true);
    local.set(fname, 30);
    lv.setUint16(30 + fname.length, 1, true);
    lv.setUint16(32 + fname.length, 16, true);
    lv.setBigUint64(34 + fname.length, BigInt(content.length), true);
    lv.setBigUint64(42 + fname.length, BigInt(body.length), true);
    const central = new Uint8Array(46 + fname.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, content.length, true);
    cv.setUint16(28, fname.length, true);
    cv.setUint32(42, offset, true);
    central.set(fname, 46);
    locals.push(local, body);
    centrals.push(central);
    offset += local.length + body.length;
  }
  const cdSize = centrals.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, centrals.length, true);
  ev.setUint16(10, centrals.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, eocd];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Uniform [0,1) floats from a seed (the same generator as the test models). */
export function uniformFloats(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next());
}
