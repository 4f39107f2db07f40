// Shape arithmetic shared by the ops: axes, strides and numpy-style broadcasting.
import type { PlanContext } from "./op";
import { intData, Uncovered, type RunState } from "./values";

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

/** The broadcast of any number of shapes (numpy rules). */
export function broadcastAll(shapes: readonly (readonly number[])[]): number[] {
  return shapes.reduce<number[]>((acc, d) => broadcastDims(acc, d), []);
}

/**
 * How to walk a broadcast of operands into `outDims` row by row: the output as outer loops (dims merged where every
 * operand broadcasts the same way) around one inner row of `n` elements, each operand stepping 0 or 1 along it.
 */
export interface BroadcastWalk {
  n: number;
  outer: number[];
  /** Per operand, its element stride along each outer dim (0 where it broadcasts). */
  strides: number[][];
  /** Per operand, its step along the inner row (0 or 1). */
  steps: number[];
}

export function broadcastWalk(outDims: readonly number[], operands: readonly (readonly number[])[]): BroadcastWalk {
  const rank = outDims.length;
  const padded = operands.map((d) => [...new Array<number>(rank - d.length).fill(1), ...d]);
  const full = padded.map((d) => stridesOf(d));
  const groups: { size: number; flags: boolean[]; strides: number[] }[] = [];
  for (let d = 0; d < rank; d++) {
    if (outDims[d] === 1) continue;
    const flags = padded.map((p) => p[d] === 1);
    const last = groups[groups.length - 1];
    if (last && last.flags.every((f, k) => f === flags[k])) {
      last.size *= outDims[d]!;
      last.strides = full.map((s, k) => (flags[k] ? 0 : s[d]!));
    } else {
      groups.push({ size: outDims[d]!, flags, strides: full.map((s, k) => (flags[k] ? 0 : s[d]!)) });
    }
  }
  const inner = groups.pop();
  if (!inner) return { n: outDims.reduce((p, d) => p * d, 1), outer: [], strides: operands.map(() => []), steps: operands.map(() => 0) };
  return {
    n: inner.size,
    outer: groups.map((g) => g.size),
    strides: operands.map((_, k) => groups.map((g) => g.strides[k]!)),
    steps: inner.strides,
  };
}

/** Calls row(offsets, out) for each inner row of a walk: each operand's start offset and the output's. */
export function eachRow(w: BroadcastWalk, row: (offsets: number[], out: number) => void): void {
  const k = w.strides.length;
  const rank = w.outer.length;
  const rows = w.outer.reduce((p, d) => p * d, 1);
  if (w.n === 0 || rows === 0) return;
  const idx = new Array<number>(rank).fill(0);
  const offsets = new Array<number>(k).fill(0);
  for (let r = 0; r < rows; r++) {
    row(offsets, r * w.n);
    for (let d = rank - 1; d >= 0; d--) {
      for (let j = 0; j < k; j++) offsets[j]! += w.strides[j]![d]!;
      if (++idx[d]! < w.outer[d]!) break;
      for (let j = 0; j < k; j++) offsets[j]! -= w.strides[j]![d]! * w.outer[d]!;
      idx[d] = 0;
    }
  }
}

/** Typed arrays a gather can copy between (of one kind: bigint into BigInt64Array, numbers into the others). */
export type Elements = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/**
 * dst[i] = src[sum over d of offsets[d][i_d]] for each index (i_0, ..., i_r-1) of `outDims`: per dim, the source
 * offset (already times its stride) of each output position, or -1 where the output is `fill` (constant padding).
 * Slice, Expand, Tile, Pad, Gather and nearest Resize are all this copy with different offsets.
 */
export function remap(src: Elements, dst: Elements, outDims: readonly number[], offsets: readonly Int32Array[], fill: number | bigint = 0): void {
  const s = src as Float32Array;
  const o = dst as Float32Array;
  const f = fill as number;
  const rank = outDims.length;
  if (rank === 0) {
    o[0] = s[0]!;
    return;
  }
  if (dst.length === 0) return;
  // The rows copied: the trailing dims that read consecutive source elements, merged (a channel Slice of NCHW reads
  // whole planes: rows of H * W, not of W); else the last dim, as its offsets say.
  const tail = consecutiveTail(outDims, offsets);
  const outer = tail ? tail.keep : rank - 1;
  const last = offsets[rank - 1]!;
  const n = tail ? tail.length : outDims[rank - 1]!;
  const first = tail ? tail.start : last[0]!;
  const rows = dst.length / n;
  const idx = new Array<number>(outer).fill(0);
  let padded = 0; // outer dims whose current position is padding
  let base = 0;
  for (let d = 0; d < outer; d++) {
    const v = offsets[d]![0]!;
    if (v < 0) padded++;
    else base += v;
  }
  let hasPad = false;
  if (!tail) for (let j = 0; j < n; j++) if (last[j]! < 0) hasPad = true;
  for (let r = 0, out = 0; r < rows; r++, out += n) {
    if (padded > 0) for (let j = 0; j < n; j++) o[out + j] = f;
    else if (tail && n >= 16) o.set(s.subarray(base + first, base + first + n), out); // consecutive: one block
    else if (tail) for (let j = 0; j < n; j++) o[out + j] = s[base + first + j]!;
    else if (hasPad) for (let j = 0; j < n; j++) { const k = last[j]!; o[out + j] = k < 0 ? f : s[base + k]!; }
    else for (let j = 0; j < n; j++) o[out + j] = s[base + last[j]!]!;
    for (let d = outer - 1; d >= 0; d--) {
      const od = offsets[d]!;
      const prev = od[idx[d]!]!;
      if (prev < 0) padded--;
      else base -= prev;
      if (++idx[d]! >= outDims[d]!) idx[d] = 0;
      const next = od[idx[d]!]!;
      if (next < 0) padded++;
      else base += next;
      if (idx[d] !== 0) break;
    }
  }
}

/**
 * The trailing dims of a remap that read consecutive source elements, as one row: the last dim's offsets run
 * start, start + 1, ..., and each dim before it that steps by the length merged so far (a whole plane, a whole
 * channel block) joins. `keep`: the dims left before the row. Null when the last dim itself does not run
 * consecutively (a column slice, a step, padding) or a dim is empty. Costs the dims' lengths, not their product.
 */
export function consecutiveTail(outDims: readonly number[], offsets: readonly Int32Array[]): { keep: number; length: number; start: number } | null {
  const rank = outDims.length;
  if (rank === 0 || outDims.some((d) => d === 0)) return null;
  const last = offsets[rank - 1]!;
  const start = last[0]!;
  if (start < 0) return null;
  for (let j = 1; j < outDims[rank - 1]!; j++) if (last[j] !== start + j) return null;
  let length = outDims[rank - 1]!;
  let from = start;
  let keep = rank - 1;
  while (keep > 0) {
    const od = offsets[keep - 1]!;
    const m = outDims[keep - 1]!;
    if (od[0]! < 0) break;
    let steps = true;
    for (let i = 1; i < m && steps; i++) steps = od[i] === od[0]! + i * length;
    if (!steps) break;
    from += od[0]!;
    length *= m;
    keep--;
  }
  return { keep, length, start: from };
}

/** Offsets for remap along one dim: source position p(i) of output position i times `stride` (-1 stays -1). */
export function offsetsOf(length: number, stride: number, position: (i: number) => number): Int32Array {
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const p = position(i);
    out[i] = p < 0 ? -1 : p * stride;
  }
  return out;
}

/** The product of dims[from, to). */
export function spanOf(dims: readonly number[], from = 0, to = dims.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= dims[i]!;
  return p;
}

/** A tensor viewed as [outer, len, inner] around `axis`: the dims before it, the axis, the dims after it. */
export function aroundAxis(dims: readonly number[], axis: number): { outer: number; len: number; inner: number } {
  return { outer: spanOf(dims, 0, axis), len: dims[axis]!, inner: spanOf(dims, axis + 1) };
}

/** Integer values (axes, pads, shapes, indices) of input i: a constant's, known at load, or read at run time from a
 * tensor carried as float32 (rounded, since integers travel as floats). */
export interface IntInput {
  known: number[] | undefined;
  read(run: RunState): number[];
}

export function intInput(ctx: PlanContext, i: number): IntInput {
  const c = ctx.constant(i);
  if (c) {
    const known = intData(c);
    return { known, read: () => known };
  }
  const x = ctx.input(i);
  return { known: undefined, read: (run) => Array.from(run.view(x(run)), Math.round) };
}

/** The dims of input i at plan time: a constant's, or an activation's where the engine knows them; else undefined. */
export function planDims(ctx: PlanContext, i: number): readonly number[] | undefined {
  return ctx.dims(i);
}
