// Shape arithmetic shared by the ops: axes, strides and numpy-style broadcasting.
import { Uncovered } from "./values";

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

export function broadcastDims(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** out = f(a, b) elementwise with broadcasting; fast paths for equal shapes and a trailing or scalar operand. */
export function broadcastBinary(
  a: Float32Array, aDims: readonly number[], b: Float32Array, bDims: readonly number[],
  out: Float32Array, outDims: readonly number[], f: (x: number, y: number) => number,
): void {
  const n = out.length;
  if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    return;
  }
  if (a.length === n && n % b.length === 0 && sameTail(bDims, outDims)) {
    const m = b.length;
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i % m]!);
    return;
  }
  if (b.length === n && n % a.length === 0 && sameTail(aDims, outDims)) {
    const m = a.length;
    for (let i = 0; i < n; i++) out[i] = f(a[i % m]!, b[i]!);
    return;
  }
  const rank = outDims.length;
  const pad = (d: readonly number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const ad = pad(aDims);
  const bd = pad(bDims);
  const as = stridesOf(ad).map((s, i) => (ad[i] === 1 ? 0 : s));
  const bs = stridesOf(bd).map((s, i) => (bd[i] === 1 ? 0 : s));
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += idx[d]! * as[d]!;
      ib += idx[d]! * bs[d]!;
    }
    out[i] = f(a[ia]!, b[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outDims[d]!) break;
      idx[d] = 0;
    }
  }
}

/** True when `small` (right-aligned) equals the trailing dims of `big` after dropping its leading 1s. */
function sameTail(small: readonly number[], big: readonly number[]): boolean {
  const s = [...small];
  while (s.length > 0 && s[0] === 1) s.shift();
  const tail = big.slice(big.length - s.length);
  return s.length <= big.length && s.every((d, i) => d === tail[i]);
}

export function requireRank(dims: readonly number[], rank: number, what: string): void {
  if (dims.length !== rank) throw new RangeError(`${what} needs a rank-${rank} input, got dims [${dims}]`);
}

export function uncoveredUnless(ok: boolean, why: string): void {
  if (!ok) throw new Uncovered(why);
}
