// How ONNX stores the element values that are not whole bytes or float32: float16 bit patterns, and 4-bit and 2-bit
// integers packed from each byte's low bits up (element i of INT4/UINT4 in bits 4(i mod 2).., of INT2/UINT2 in bits
// 2(i mod 4)..); plus the round-half-to-even that ONNX quantization and float16 conversion use. Compression writes
// these forms, the kernel engine reads them back: both go through this module (float16 bits through formats/half.js,
// which inference tensors share).
import { fromHalf } from "../../formats/half.js";

export { fromHalf, toHalf } from "../../formats/half.js";

/** Round to nearest, ties to even (as QuantizeLinear and wasm's f32.nearest do). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

let halfTable: Float32Array | null = null;

/** Every float16 bit pattern as float32, built on first use: decoding is then one lookup per element. */
export function halfValues(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = fromHalf(h);
  }
  return halfTable;
}

/** Packs int4 (or uint4) levels two per byte, element 2i in the low nibble (ONNX INT4/UINT4 layout). */
export function packInt4(levels: Int8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(levels.length / 2));
  for (let i = 0; i < levels.length; i++) out[i >> 1]! |= (levels[i]! & 15) << (i & 1 ? 4 : 0);
  return out;
}

export const INT2_MIN = -2;
export const INT2_MAX = 1;

/** Packs signed 2-bit levels four per byte, element 4i+j in bits 2j..2j+1 (zero padding in the last byte). Throws on
 * a level outside [-2, 1]. */
export function packInt2(levels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(levels.length / 4));
  for (let i = 0; i < levels.length; i++) {
    const v = levels[i]!;
    if (v < INT2_MIN || v > INT2_MAX || !Number.isInteger(v)) throw new RangeError(`int2 level ${v} at ${i} is outside [-2, 1]`);
    out[i >> 2]! |= (v & 3) << ((i & 3) * 2);
  }
  return out;
}

/**
 * The first `n` elements of `width`-bit packed bytes widened into `out`, signed when `out` is an Int8Array, through a
 * table of each byte's elements: one lookup per element. A byte past the end of `bytes` reads as zeros.
 */
export function unpackSubByte<T extends Int8Array | Uint8Array>(bytes: Uint8Array, n: number, width: 2 | 4, out: T): T {
  const per = 8 / width;
  const table = out instanceof Int8Array ? new Int8Array(256 * per) : new Uint8Array(256 * per);
  for (let b = 0; b < 256; b++)
    for (let j = 0; j < per; j++) {
      const v = (b >> (j * width)) & ((1 << width) - 1);
      table[b * per + j] = out instanceof Int8Array && v >= 1 << (width - 1) ? v - (1 << width) : v;
    }
  const shift = width === 2 ? 2 : 1;
  for (let i = 0; i < n; i++) out[i] = table[bytes[i >> shift]! * per + (i & (per - 1))]!;
  return out;
}

/** The `count` signed levels of packed INT2 bytes. */
export function unpackInt2(packed: Uint8Array, count: number): Int8Array {
  return unpackSubByte(packed, count, 2, new Int8Array(count));
}

/** The `count` signed levels of packed INT4 bytes. */
export function unpackInt4(packed: Uint8Array, count: number): Int8Array {
  return unpackSubByte(packed, count, 4, new Int8Array(count));
}
