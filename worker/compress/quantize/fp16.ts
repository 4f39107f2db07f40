// 16-bit encoding: the weight as a FLOAT16 initializer (round to nearest even) and a Cast back to float.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { makeTensor } from "../../onnx/tensor";
import type { WeightEncoding } from "./encoding";
import { quantizationError } from "./weights";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of a float32, rounding to nearest even (overflow to infinity, NaN kept). */
export function toHalf(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1; // may carry into the exponent, as it should
  e = half;
  return sign | e;
}

export function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

export const fp16: WeightEncoding = {
  bits: 16,
  unsupported: (w) => (w.opset > 0 && w.opset < 6 ? `opset ${w.opset} predates Cast` : null),
  encode(w) {
    const half = Uint16Array.from(w.data, toHalf);
    const hName = w.fresh(`${w.name}_fp16`);
    const output = w.fresh(`${w.name}_as_float`);
    return {
      initializers: [makeTensor(hName, DT.FLOAT16, w.dims, half)],
      nodes: [makeNode("Cast", [hName], [output], w.fresh(`${w.name}_cast`), { to: DT.FLOAT })],
      output,
      error: quantizationError(w.data, Float32Array.from(half, fromHalf)),
      scales: [1],
      axis: -1,
    };
  },
};
