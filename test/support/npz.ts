// .npy and .npz bytes for tests, written by the shared format module the way numpy writes them (zip64 extras in the
// local headers, stored or deflated), so that tests can upload datasets without Python; `npy` takes any descr and
// Fortran order, to write what a reader must refuse.
import { writeNpy } from "@formats/npy.js";
import { encodeNpz, encodeNpzDeflated } from "@formats/npz.js";
import { rng } from "./models";

export type NpyDescr = "<f4" | "<f8" | "<i8" | "<i4" | "|u1" | "|b1" | ">f4" | "<f2";

export function npy(descr: NpyDescr, shape: number[], data: ArrayBufferView, opts: { fortran?: boolean } = {}): Uint8Array {
  return writeNpy({ descr, shape, fortranOrder: opts.fortran }, data);
}

/** A zip of `name.npy` entries, like np.savez (stored) or np.savez_compressed (deflate). */
export async function npz(arrays: Record<string, Uint8Array>, opts: { compress?: boolean } = {}): Promise<Uint8Array> {
  return opts.compress ? encodeNpzDeflated(arrays, { zip64: true }) : encodeNpz(arrays, { zip64: true });
}

/** Uniform [0,1) floats from a seed (the same generator as the test models). */
export function uniformFloats(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next());
}

/** Offsets of a single-disk zip's central directory and end record, read from the end record. */
function zipLayout(zip: Uint8Array): { central: number; eocd: number } {
  const eocd = zip.byteLength - 22;
  return { central: new DataView(zip.buffer, zip.byteOffset).getUint32(eocd + 16, true), eocd };
}

function endRecord(count: number, directorySize: number, directoryOffset: number): Uint8Array {
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, count, true);
  v.setUint16(10, count, true);
  v.setUint32(12, directorySize, true);
  v.setUint32(16, directoryOffset, true);
  return end;
}

/** Hostile archives a dataset upload must refuse; each is built from a sound .npz of one small array. */
export const hostileNpz = {
  /** A stored entry whose central header declares 0 bytes while its data holds the whole .npy. */
  storedDeclaringZero(): Uint8Array {
    const zip = encodeNpz({ input: npy("<f4", [64], new Float32Array(64)) });
    const { central } = zipLayout(zip);
    new DataView(zip.buffer).setUint32(central + 24, 0, true);
    return zip;
  },
  /** `count` central entries with distinct names, all pointing at the one local entry. */
  sharedLocalEntry(count = 50): Uint8Array {
    const zip = encodeNpz({ a00: npy("<f4", [64], new Float32Array(64)) });
    const { central, eocd } = zipLayout(zip);
    const entry = zip.subarray(central, eocd);
    const out = new Uint8Array(central + entry.byteLength * count + 22);
    out.set(zip.subarray(0, central));
    for (let i = 0; i < count; i++) {
      const at = central + i * entry.byteLength;
      out.set(entry, at);
      out.set(new TextEncoder().encode(`a${String(i).padStart(2, "0")}`), at + 46);
    }
    out.set(endRecord(count, entry.byteLength * count, central), central + entry.byteLength * count);
    return out;
  },
  /** A central entry whose size is in a zip64 extra field holding 4 of the 8 bytes it needs, at the end of the file. */
  truncatedZip64Extra(): Uint8Array {
    const zip = encodeNpz({ input: npy("<f4", [4], new Float32Array(4)) });
    const { central, eocd } = zipLayout(zip);
    const entry = new Uint8Array(eocd - central + 8);
    entry.set(zip.subarray(central, eocd));
    const v = new DataView(entry.buffer);
    v.setUint32(24, 0xffffffff, true); // size: in the zip64 field
    v.setUint16(30, 8, true); // extra length
    v.setUint16(entry.byteLength - 8, 0x0001, true);
    v.setUint16(entry.byteLength - 6, 4, true); // 4 bytes of field data, where the size needs 8
    // The end record precedes the directory, so the field runs into the end of the file.
    const out = new Uint8Array(central + 22 + entry.byteLength);
    out.set(zip.subarray(0, central));
    out.set(endRecord(1, entry.byteLength, central + 22), central);
    out.set(entry, central + 22);
    return out;
  },
  /** A deflated entry declaring 4 KiB that inflates to `inflated` bytes of zeros. */
  async deflateBomb(inflated: number): Promise<Uint8Array> {
    const zip = await encodeNpzDeflated({ input: npy("|u1", [inflated - 128], new Uint8Array(inflated - 128)) });
    const { central } = zipLayout(zip);
    new DataView(zip.buffer).setUint32(central + 24, 4096, true);
    return zip;
  },
};
