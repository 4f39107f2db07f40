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
