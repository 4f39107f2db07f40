// GPTQ rounding (Frantar et al. 2022): the input features of a 2-D weight are quantized one at a time, in order, and
// each one's rounding error is spread over the features not yet quantized, weighted by the inverse Hessian of the
// layer's reconstruction error (H = sum of x xᵀ over the inputs the layer sees in calibration). Levels land on the
// encoding's own grid (scales from the float weight), so the stored form is unchanged; only the integers differ.
import type { GemmLayout } from "../../onnx/operators";
import { nearestLevel, type AffineGrid } from "./affine";
import { drain, Pieces, stepped, type SteppedRounding } from "./stepped";

export interface GptqOptions {
  /** Added to the Hessian's diagonal, as a fraction of its mean (keeps the inverse stable). */
  dampening: number;
  /** Quantize the features with the largest Hessian diagonal (most activation energy) first. */
  actOrder: boolean;
}

export const GPTQ_DEFAULTS: GptqOptions = { dampening: 0.01, actOrder: false };

/** Lower Cholesky factor of a symmetric matrix (row-major k x k), or null when it is not positive definite. */
export function cholesky(a: Float64Array, k: number): Float64Array | null {
  return drain(choleskySteps(a, k));
}

/** cholesky, pausing once `pieces` has a piece of work done (stepped.ts): column j costs about j (k - j). */
function* choleskySteps(a: Float64Array, k: number, pieces?: Pieces): Generator<void, Float64Array | null, void> {
  const l = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    const rj = j * k;
    let d = a[rj + j]!;
    for (let p = 0; p < j; p++) d -= l[rj + p]! * l[rj + p]!;
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    l[rj + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      const ri = i * k;
      let s = a[ri + j]!;
      for (let p = 0; p < j; p++) s -= l[ri + p]! * l[rj + p]!;
      l[ri + j] = s / ljj;
    }
    if (pieces) yield* pieces.spend(j * (k - j) + k);
  }
  return l;
}

/** The inverse of a symmetric positive definite matrix from its lower Cholesky factor: L⁻ᵀ L⁻¹, a piece at a time. */
function* inverseFromCholesky(l: Float64Array, k: number, pieces: Pieces): Generator<void, Float64Array, void> {
  // t = (L⁻¹)ᵀ, upper triangular: column c of L⁻¹ by forward substitution, stored as row c of t.
  const t = new Float64Array(k * k);
  const col = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    col.fill(0);
    for (let i = c; i < k; i++) {
      let s = i === c ? 1 : 0;
      const ri = i * k;
      for (let p = c; p < i; p++) s -= l[ri + p]! * col[p]!;
      col[i] = s / l[ri + i]!;
    }
    t.set(col.subarray(c), c * k + c);
    yield* pieces.spend(((k - c) * (k - c)) / 2 + k);
  }
  // (L⁻ᵀ L⁻¹)[i][j] = sum over p >= max(i, j) of L⁻¹[p][i] L⁻¹[p][j] = sum of t[i][p] t[j][p].
  const inv = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      let s = 0;
      const ri = i * k;
      const rj = j * k;
      for (let p = j; p < k; p++) s += t[ri + p]! * t[rj + p]!;
      inv[i * k + j] = s;
      inv[j * k + i] = s;
    }
    yield* pieces.spend(((k - i) * (k - i)) / 2 + k);
  }
  return inv;
}

/**
 * The upper factor U of H⁻¹ = Uᵀ U after damping: row i holds how feature i's error moves the later features. Dead
 * features (never active in calibration) get a unit diagonal, so they neither receive nor pass on error. Damping
 * grows tenfold while H is not numerically positive definite.
 */
export function inverseHessianFactor(hessian: Float64Array, k: number, dampening: number): Float64Array {
  return drain(inverseHessianFactorSteps(hessian, k, dampening, new Pieces()));
}

/** inverseHessianFactor a piece at a time (stepped.ts). */
function* inverseHessianFactorSteps(hessian: Float64Array, k: number, dampening: number, pieces: Pieces): Generator<void, Float64Array, void> {
  for (const damped of dampedFactors(hessian, k, dampening, pieces)) {
    if (!damped) {
      yield;
      continue;
    }
    const inverse = yield* inverseFromCholesky(damped.factor, k, pieces);
    const m = yield* choleskySteps(inverse, k, pieces);
    if (!m) continue;
    const u = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i; j < k; j++) u[i * k + j] = m[j * k + i]!;
    return u;
  }
  throw new RangeError("the calibration Hessian is not positive definite even after damping");
}

/**
 * Lower Cholesky factors of the Hessian with dead features (never active in calibration) given a unit diagonal and
 * `damp` = `dampening` x its mean diagonal added, the damping growing tenfold (at most 8 times) while H is not
 * numerically positive definite. With `pieces`, a factorization pauses between its pieces of work (stepped.ts):
 * each pause is an `undefined` in the sequence.
 */
export function* dampedFactors(hessian: Float64Array, k: number, dampening: number, pieces?: Pieces): Generator<{ factor: Float64Array; damp: number } | undefined, void, void> {
  const h = Float64Array.from(hessian);
  let mean = 0;
  for (let i = 0; i < k; i++) {
    if (h[i * k + i]! <= 0) {
      for (let j = 0; j < k; j++) h[i * k + j] = h[j * k + i] = 0;
      h[i * k + i] = 1;
    }
    mean += h[i * k + i]! / k;
  }
  for (let damp = Math.max(dampening, 1e-8) * mean, tries = 0; tries < 8; tries++, damp *= 10) {
    const d = Float64Array.from(h);
    for (let i = 0; i < k; i++) d[i * k + i] = d[i * k + i]! + damp;
    const steps = choleskySteps(d, k, pieces);
    let step = steps.next();
    for (; !step.done; step = steps.next()) yield undefined;
    if (step.value) yield { factor: step.value, damp };
  }
}

/**
 * A single product's layout as `blocks` products of K / blocks consecutive inputs over the same outputs: what rounding
 * against a block-diagonal Hessian sees (each block's error moves within its block only). Undefined where the
 * layout has several products (a grouped Conv) or K does not divide.
 */
export function blockedLayout(layout: GemmLayout, blocks: number): BlockedLayout | undefined {
  if (layout.groups !== 1 || layout.K % blocks !== 0) return undefined;
  const K = layout.K / blocks;
  return { ...layout, groups: blocks, K, groupStride: K * layout.kStride, blocks };
}

/** Products that are diagonal blocks of one product: they share its outputs (and its scales). */
export interface BlockedLayout extends GemmLayout {
  blocks: number;
}

/**
 * GPTQ as a LevelRounding for a weight seen as the operator table's matrix products (`layout`: MatMul's [K, N],
 * Gemm's transposed [N, K], a Conv's `groups` products of K = C/group x kernel inputs, or one product's diagonal
 * blocks): `hessians` holds one k x k matrix per group (row-major, concatenated). Each group's outputs are rounded
 * against their own Hessian.
 */
export function gptqRounding(hessians: Float64Array, layout: GemmLayout | BlockedLayout, options: GptqOptions = GPTQ_DEFAULTS): SteppedRounding {
  const { groups, K: k, N: n } = layout;
  if (hessians.length !== groups * k * k) throw new RangeError(`${hessians.length} Hessian values for ${groups} group(s) of ${k} input features`);
  const blocked = "blocks" in layout;
  return stepped(function* (data: Float32Array, grid: AffineGrid) {
    const pieces = new Pieces();
    const levels = new Int32Array(data.length);
    const refit = grid.qmax === 1 && !grid.zeroPoints;
    const scales = refit ? Float32Array.from(grid.scales) : grid.scales;
    for (let g = 0; g < groups; g++) {
      const base = g * layout.groupStride;
      const at = (f: number, o: number) => base + f * layout.kStride + o * layout.nStride;
      const hessian = hessians.subarray(g * k * k, (g + 1) * k * k);
      yield* roundGroup(data, grid, hessian, k, n, at, options, levels, pieces);
      if (refit && !blocked) yield* refitScales(data, levels, grid, hessian, k, n, at, scales, k, pieces);
    }
    // Blocks share their outputs' scales: refitted once over every block, the Hessian taken as block-diagonal.
    if (refit && blocked) yield* refitScales(data, levels, grid, hessians, k * groups, n, (f, o) => f * layout.kStride + o * layout.nStride, scales, k, pieces);
    return { levels, scales };
  });
}

/** GPTQ over one product: features in order (or by act-order), each one's error spread over those not yet rounded. */
function* roundGroup(
  data: Float32Array,
  grid: AffineGrid,
  hessian: Float64Array,
  k: number,
  n: number,
  at: (f: number, o: number) => number,
  options: GptqOptions,
  levels: Int32Array,
  pieces: Pieces,
): Generator<void, void, void> {
  const order = Array.from({ length: k }, (_, i) => i);
  if (options.actOrder) order.sort((a, b) => hessian[b * k + b]! - hessian[a * k + a]! || a - b);
  const permuted = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) permuted[i * k + j] = hessian[order[i]! * k + order[j]!]!;
  const u = yield* inverseHessianFactorSteps(permuted, k, options.dampening, pieces);
  // Rows in rounding order: w[r][o] is feature order[r]'s weight into output o, updated as errors arrive.
  const w = new Float64Array(k * n);
  for (let r = 0; r < k; r++) for (let o = 0; o < n; o++) w[r * n + o] = data[at(order[r]!, o)]!;
  const err = new Float64Array(n);
  for (let r = 0; r < k; r++) {
    const f = order[r]!;
    const d = u[r * k + r]!;
    const row = r * n;
    for (let o = 0; o < n; o++) {
      const e = at(f, o);
      const g = grid.index[e]!;
      const value = w[row + o]!;
      const zp = grid.zeroPoints ? grid.zeroPoints[g]! : 0;
      // A weight that is exactly zero (pruned) stays zero: its drift moves on like any rounding error.
      const q = data[e] === 0 && !grid.signOnly ? zp : nearestLevel(value, grid, g);
      levels[e] = q;
      err[o] = (value - (q - zp) * grid.scales[g]!) / d;
    }
    for (let j = r + 1; j < k; j++) {
      const c = u[r * k + j]!;
      if (c === 0) continue;
      const rowJ = j * n;
      for (let o = 0; o < n; o++) w[rowJ + o] = w[rowJ + o]! - c * err[o]!;
    }
    yield* pieces.spend((k - r) * n);
  }
}

/**
 * Least-squares scales for a symmetric grid whose top level is 1 (1-bit signs, ternary, INT2's four levels): with the
 * levels fixed, each output's group scales minimise its output error (w - ŵ)ᵀ H (w - ŵ) on the calibration inputs, a
 * small linear system per output (one unknown per group in it). Where that system is singular or a scale comes out
 * zero or of the other sign than its grid's, the grid's own scales stay. Writes the refitted scales of this product's groups into `scales`.
 * `hessian` is block-diagonal, its blocks of `span` inputs concatenated (span = k: the whole matrix).
 */
function* refitScales(
  data: Float32Array,
  levels: Int32Array,
  grid: AffineGrid,
  hessian: Float64Array,
  k: number,
  n: number,
  at: (f: number, o: number) => number,
  scales: Float32Array,
  span: number,
  pieces: Pieces,
): Generator<void, void, void> {
  const hb = new Float64Array(k);
  for (let o = 0; o < n; o++) {
    yield* pieces.spend(k * span);
    // The groups of this output, in order of first appearance along the features.
    const local = new Map<number, number>();
    const groupOf = new Int32Array(k);
    for (let f = 0; f < k; f++) {
      const g = grid.index[at(f, o)]!;
      if (!local.has(g)) local.set(g, local.size);
      groupOf[f] = local.get(g)!;
    }
    const m = local.size;
    const a = new Float64Array(m * m);
    const c = new Float64Array(m);
    // a[g][h] = sum over i in g, j in h of b_i H_ij b_j; c[g] = sum over i in g of b_i (H w)_i.
    for (let i = 0; i < k; i++) {
      const bi = levels[at(i, o)]!;
      if (bi === 0) continue;
      let hw = 0;
      hb.fill(0);
      // Row i of its block: entry (i, j) at row + j for j in the block.
      const first = i - (i % span);
      const row = (first / span) * span * span + (i - first) * span - first;
      for (let j = first; j < first + span; j++) {
        const h = hessian[row + j]!;
        hw += h * data[at(j, o)]!;
        const bj = levels[at(j, o)]!;
        if (bj !== 0) hb[groupOf[j]!] = hb[groupOf[j]!]! + h * bj;
      }
      const gi = groupOf[i]!;
      c[gi] = c[gi]! + bi * hw;
      for (let h = 0; h < m; h++) a[gi * m + h] = a[gi * m + h]! + bi * hb[h]!;
    }
    const solved = solveSymmetric(a, c, m);
    // A refitted scale keeps its grid's sign (INT2's grid may be flipped): one that changes it, or vanishes, is not taken.
    if (!solved || [...local].some(([g, idx]) => !(solved[idx]! * grid.scales[g]! > 0) || !Number.isFinite(solved[idx]!))) continue;
    for (const [g, idx] of local) scales[g] = Math.fround(solved[idx]!);
  }
}

/** x with a x = c for a symmetric positive definite m x m matrix (Cholesky), or null when it is not. */
export function solveSymmetric(a: Float64Array, c: Float64Array, m: number): Float64Array | null {
  const l = cholesky(a, m);
  if (!l) return null;
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = c[i]!;
    for (let p = 0; p < i; p++) s -= l[i * m + p]! * y[p]!;
    y[i] = s / l[i * m + i]!;
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let p = i + 1; p < m; p++) s -= l[p * m + i]! * x[p]!;
    x[i] = s / l[i * m + i]!;
  }
  return x;
}
